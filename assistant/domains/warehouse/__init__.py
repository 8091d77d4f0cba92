"""The warehouse domain: fault-code lines, questions about the fault catalog, small talk.

Everything that knows about fault codes lives here, at run time and at training time:

- `faultcodes`: the fault-line grammar (parse, canonical spelling, detector);
- `catalog`, `data/fault_catalog.yaml`: the fault catalog;
- `messages`: the reply templates (the targets the model learns);
- `segment`, `graph_segment`: record segmentation and record order, in Python and in the
  exported graph;
- `faithfulness` (with `mentions`, `catalog_checks`, `answer_checks`): the checks of a reply
  against its input and the catalog;
- `corpus` (with `sampler`, `phrasings`, `smalltalk`): the corpus builder
  (`python -m training build-corpus`);
- `configs/`: the shipped bundle's training config and notes;
- `manifest`: the domain's name and the files a bundle of it carries;
- `domain`: `WarehouseDomain`, what the runtime asks of this package.
"""

from assistant.domains.warehouse.domain import WarehouseDomain

__all__ = ["WarehouseDomain"]
