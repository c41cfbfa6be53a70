"""Write reconstruction figures of a few training images while pretraining runs."""
import os
import os.path as osp
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from PIL import Image

from mae_mm.registry import HOOKS
from mae_mm.visualization import preprocessor_mean_std, reconstruction_rows


@HOOKS.register_module()
class ReconstructionHook(Hook):
    """Every ``interval`` epochs (and after the last), save ``vis/epoch_N.png`` in the work dir.

    Rows are the paper's Figure 2 panels for the first ``num_images`` training samples:
    masked input, reconstruction, reconstruction with the visible patches pasted, original.

    Args:
        interval (int): Epochs between figures. Defaults to 10.
        num_images (int): Samples shown. Defaults to 4.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 10, num_images: int = 4) -> None:
        self.interval = interval
        self.num_images = num_images
        self.last_path: Optional[str] = None

    def after_train_epoch(self, runner) -> None:
        last = runner.epoch + 1 == runner.max_epochs
        if not (self.every_n_epochs(runner, self.interval) or last):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dataset = runner.train_dataloader.dataset
        batch = [dataset[i] for i in range(min(self.num_images, len(dataset)))]
        was_training = model.training
        model.eval()
        data = model.data_preprocessor(runner.train_dataloader.collate_fn(batch), False)
        mean, std = preprocessor_mean_std(model.data_preprocessor, data['inputs'].shape[1])
        rows = reconstruction_rows(model, data['inputs'], data['data_samples'], mean, std)
        model.train(was_training)
        os.makedirs(osp.join(runner.work_dir, 'vis'), exist_ok=True)
        self.last_path = osp.join(runner.work_dir, 'vis', f'epoch_{runner.epoch + 1}.png')
        Image.fromarray(rows).save(self.last_path)
        runner.logger.info(f'reconstructions written to {self.last_path}')
