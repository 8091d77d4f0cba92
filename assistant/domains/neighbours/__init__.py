"""The neighbours domain: a generic model that reads each source with its nearest train pair.

Not a domain of its own inputs: training turns it on for pairs without a domain
(`train.neighbours`), so a model of codes and names edits its neighbour's name instead of
guessing one.

- `index`: `NeighbourIndex`, the train pairs and how near two sources are;
- `graph`: its in-graph twin for the export;
- `domain`: `NeighbourDomain`, what the runtime asks of this package.
"""

from assistant.domains.neighbours.domain import NeighbourDomain

__all__ = ["NeighbourDomain"]
