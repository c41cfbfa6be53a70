"""Image loading that names the file it cannot read, and can skip such files (opt-in)."""
from typing import Optional

from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine.logging import print_log

from mae_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with a clear error for unreadable or corrupt files.

    Args:
        skip_corrupt (bool): Instead of failing, warn and return None, which makes the
            dataset fetch another sample during training. ``skipped`` counts them (per
            worker process). Defaults to False.
        **kwargs: Passed to mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, skip_corrupt: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip_corrupt = skip_corrupt
        self.skipped = 0

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path')
        try:
            out = super().transform(results)
            if out is not None and out.get('img') is None:
                raise ValueError('no image could be decoded')
            return out
        except Exception as err:  # mmcv raises many kinds for bad files
            if not self.skip_corrupt:
                raise ValueError(
                    f'cannot read image {path!r} ({type(err).__name__}: {err}); remove or replace '
                    f"the file, or skip unreadable files with dict(type='mae_mm.LoadImageFromFile', "
                    f'skip_corrupt=True) in the pipeline') from err
            self.skipped += 1
            print_log(f'skipping unreadable image {path!r} ({type(err).__name__}); '
                      f'{self.skipped} skipped in this worker', logger='current', level=30)
            return None
