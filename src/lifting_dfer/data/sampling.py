"""``lifting_dfer.data.sampling``, where [`uniform_indices`][lifting_dfer.data.uniform_indices] lived up to 0.2.0.

The function is now in ``lifting_dfer.temporal_sampling``, below both the data and the video packages (the video
package's truncated-clip fallback samples with it too); this module keeps the old import path working.
"""

from __future__ import annotations

from ..temporal_sampling import uniform_indices

__all__ = ["uniform_indices"]
