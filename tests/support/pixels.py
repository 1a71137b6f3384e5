"""Reading a browser's screenshot: how many pixels are drawn in a colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# the backtest report's colours (matplotlib's tab10): its prequential metric, its drift markers,
# its label delay
PREQUENTIAL_BLUE = (0x1F, 0x77, 0xB4)
DRIFT_RED = (0xD6, 0x27, 0x28)
LABEL_DELAY_CYAN = (0x17, 0xBE, 0xCF)


def count_near(shot: Path, color: tuple[int, int, int], tolerance: int = 24) -> int:
    """Pixels of the PNG at ``shot`` within ``tolerance`` of ``color`` on each channel.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "two.png"
    >>> Image.new("RGB", (2, 1), (0x1F, 0x77, 0xB4)).save(path)
    >>> count_near(path, (0x20, 0x70, 0xB0)), count_near(path, (0xD6, 0x27, 0x28))
    (2, 0)
    """
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    return int((np.abs(pixels - np.array(color, dtype=np.int16)) <= tolerance).all(axis=-1).sum())
