"""`AssistantModelHandler`: loading (local and remote bundles), batches, options, sharing."""

import shutil
import threading

import apache_beam as beam
import pytest
from apache_beam.ml.inference.base import PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from assistant.beam import handler as module
from assistant.beam.handler import AssistantModelHandler, bundle_defaults, local_bundle
from tests.beam import fakes
from tests.cli.convert.fakes import FakeAssistant


def test_loads_with_its_cache_size_and_answers_in_batch_order(loads):
    handler = AssistantModelHandler("/bundles/w", cache_size=7, loader=fakes.load_fake)
    model = handler.load_model()
    assert isinstance(model, FakeAssistant)
    assert loads == [("/bundles/w", 7, threading.get_ident())]
    results = handler.run_inference(["b", "a long one", "FLAG"], model)
    assert [r.example for r in results] == ["b", "a long one", "FLAG"]
    assert [r.inference.text for r in results] == ["B", "A LONG ONE", "FLAG"]
    assert results[2].inference.flags == ("number 99 not in input",)
    assert model.calls == [["b", "a long one", "FLAG"]]


def test_options_then_inference_args_override_the_defaults():
    handler = AssistantModelHandler("m", options={"n_best": 2}, loader=fakes.load_fake)
    model = handler.load_model()
    [result] = handler.run_inference(["x"], model)
    assert len(result.inference.alternatives) == 2
    [result] = handler.run_inference(["x"], model, {"n_best": 3, "beam_width": 4})
    assert len(result.inference.alternatives) == 3
    handler.validate_inference_args({"n_best": 3, "beam_width": 4})
    with pytest.raises(ValueError, match="unknown decoding option"):
        handler.validate_inference_args({"beam": 4})
    with pytest.raises(ValueError, match="unknown decoding option"):
        AssistantModelHandler("m", options={"bogus": 1})


def test_an_option_the_model_refuses_fails_the_load():
    # FakeAssistant allows at most 16 (as the real limit does), checked at load
    handler = AssistantModelHandler("m", options={"beam_width": 16}, loader=fakes.load_fake)
    handler.load_model()
    handler.options["beam_width"] = 17
    with pytest.raises(ValueError, match="beam_width must be at most 16"):
        handler.load_model()


def test_batches_are_sized_by_beam_between_the_batch_size_and_the_window():
    assert AssistantModelHandler("m").batch_elements_kwargs() == {
        "min_batch_size": 64,
        "max_batch_size": 1024,
    }
    assert AssistantModelHandler("m", batch_size=8).batch_elements_kwargs() == {
        "min_batch_size": 8,
        "max_batch_size": 1024,
    }
    assert AssistantModelHandler("m", max_batch_size=4).batch_elements_kwargs() == {
        "min_batch_size": 4,
        "max_batch_size": 4,
    }
    assert AssistantModelHandler("m", min_batch_size=1).batch_elements_kwargs() == {
        "min_batch_size": 1,
        "max_batch_size": 1024,
    }
    assert AssistantModelHandler("m").get_num_bytes(["ab", "é"]) == 4
    assert AssistantModelHandler("m").get_metrics_namespace() == module.METRICS_NAMESPACE


def test_one_load_shared_by_the_threads_of_a_process(loads):
    handler = AssistantModelHandler("/bundles/w", loader=fakes.load_fake, batch_size=4)
    texts = [f"line {number}" for number in range(200)]
    options = PipelineOptions(["--direct_running_mode=multi_threading", "--direct_num_workers=2"])
    with beam.Pipeline("DirectRunner", options=options) as pipeline:
        replies = (
            pipeline
            | beam.Create(texts)
            | beam.Reshuffle()
            | RunInference(handler)
            | beam.Map(lambda result: (result.example, result.inference.text))
        )
        assert_that(replies, equal_to([(text, text.upper()) for text in texts]))
    assert [load[:2] for load in loads] == [("/bundles/w", module.DEFAULT_CACHE_SIZE)]


def test_a_local_bundle_is_used_where_it_is(tmp_path):
    assert local_bundle(str(tmp_path)) == tmp_path


def test_a_remote_bundle_is_copied_to_the_worker(bundle, remote):
    shutil.copytree(
        bundle, remote / "bundles" / "w", ignore=shutil.ignore_patterns("checkpoint", "tensorboard")
    )
    copy = local_bundle("fakefs://bundles/w")
    assert copy != remote / "bundles" / "w"
    names = sorted(path.name for path in (remote / "bundles" / "w").iterdir())
    assert sorted(path.name for path in copy.iterdir()) == names
    for name in names:
        assert (copy / name).read_bytes() == (bundle / name).read_bytes()
    with pytest.raises(ValueError, match="fakefs://nothing: no bundle files there"):
        local_bundle("fakefs://nothing")


def test_bundle_defaults_read_config_json_where_it_is(bundle, remote):
    defaults = bundle_defaults(str(bundle))
    assert defaults and set(defaults) <= set(module.default_options())
    shutil.copy(bundle / "config.json", remote / "config.json")
    assert bundle_defaults("fakefs://") == defaults
    with pytest.raises(ValueError, match=r"^fakefs://x/config.json: missing \(not a model"):
        bundle_defaults("fakefs://x")
    (remote / "y").mkdir()
    (remote / "y" / "config.json").write_text("[1]")
    with pytest.raises(ValueError, match=r"^fakefs://y/config.json: not a bundle config"):
        bundle_defaults("fakefs://y")
    with pytest.raises(ValueError, match=r"^nofs://z/config.json: Unable to get filesystem"):
        bundle_defaults("nofs://z")


def test_prediction_results_carry_the_text_and_the_reply():
    handler = AssistantModelHandler("m", loader=fakes.load_fake)
    [result] = handler.run_inference(["hi"], handler.load_model())
    assert isinstance(result, PredictionResult) and result.example == "hi"
    assert repr(handler).startswith("AssistantModelHandler('m', options={}, batch_size=64")


def test_convert_s_cache_and_batch_floor_on_a_real_load(bundle):
    """`convert --runner` builds its handler with convert's slim cache and 8-row batches."""
    handler = AssistantModelHandler(str(bundle), cache_size=5, slim_cache=True,
                                    min_batch_rows=8)
    assistant = handler.load_model()
    assert assistant.cache.slim and assistant.cache.max_entries == 5
    assert assistant.min_batch_rows == 8
    plain = AssistantModelHandler(str(bundle), cache_size=5).load_model()
    assert not plain.cache.slim and plain.min_batch_rows == 1
    assert "slim_cache=True, min_batch_rows=8)" in repr(handler)
