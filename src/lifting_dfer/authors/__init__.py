"""The authors' form of IFDD-3DViT: the model their released code computes, built from the library's parts.

The paper's equations and the authors' released code (github.com/CyberPegasus/IFDD, commit ``1a1f557``) differ in
many places (docs/reproduce.md lists them). The paper form ([`ifdd_3dvit`][lifting_dfer.ifdd_3dvit]) stays the
default; this package holds what the authors' form needs besides options of the library's modules:

- [`ifdd_3dvit_authors`][lifting_dfer.authors.ifdd_3dvit_authors]: the registered builder (DFEW / FERV39k at 16
  frames, MAFW at 32);
- [`GridTokens`][lifting_dfer.authors.GridTokens]: their temporal tokens for [`ISSM`][lifting_dfer.ISSM];
- [`BlockPool`][lifting_dfer.authors.BlockPool]: their pooling of ``Y_D`` (a transformer block, then a learned
  weighting of positions); [`lifting_parts`][lifting_dfer.authors.lifting_parts] builds ISSM, LADM and it as
  their code has them;
- [`load_authors_checkpoint`][lifting_dfer.load_authors_checkpoint] and
  [`convert_authors_checkpoint`][lifting_dfer.authors.convert_authors_checkpoint]: their
  ``{'epoch', 'model', 'opt', 'ema'}`` files.

With the same weights it gives their logits to within 1e-6 in float64 (``tests/test_authors.py``, against a
reference made by ``tools/authors_reference.py`` from their code).
"""

from .checkpoint import (
    AUTHORS_KEYS,
    AUTHORS_UNUSED,
    AuthorsCheckpointInfo,
    authors_state_dict,
    convert_authors_checkpoint,
    load_authors_checkpoint,
)
from .head import BlockPool
from .models import AUTHORS_COMMIT, ifdd_3dvit_authors, lifting_parts
from .tokens import GridTokens

__all__ = [
    "AUTHORS_COMMIT",
    "AUTHORS_KEYS",
    "AUTHORS_UNUSED",
    "AuthorsCheckpointInfo",
    "BlockPool",
    "GridTokens",
    "authors_state_dict",
    "convert_authors_checkpoint",
    "ifdd_3dvit_authors",
    "lifting_parts",
    "load_authors_checkpoint",
]
