"""Apache Beam surfaces of the assistant (the `[beam]` extra: `pip install -e '.[beam]'`).

- `handler.AssistantModelHandler`: a RunInference `ModelHandler` for a bundle;
- `transforms.AnswerRecords` and `transforms.ConvertFiles`: ready transforms that answer
  `convert`'s records (every record once, bad ones flagged) and convert whole files;
- `files`: reading records with their file and line number, writing rows (one file in input
  order, or shards);
- `launch`: `python -m assistant convert INPUT -o OUTPUT --runner NAME [-- BEAM_OPTIONS]`.

Nothing here is imported by the default install: `assistant.cli.convert.command` imports
`launch` only when `--runner` is given, and only `launch` may be imported without Beam.
"""
