"""Stop training at the first NaN / Inf loss, before anything corrupt can be saved."""
import math

from mmengine.hooks import Hook

from mae_mm.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise when a training step's loss is NaN or Inf, naming the iteration and the last
    good checkpoint. It runs before the checkpoint hook, and ``SafeCheckpointHook`` refuses
    non-finite weights too, so no corrupt checkpoint is ever written.

    With ``optim_wrapper=dict(type='mae_mm.SkipNonFiniteOptimWrapper', ...)`` (or the Amp
    variant) such steps are skipped instead, and this hook only logs them.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is None:
            return
        value = float(loss)
        if math.isfinite(value):
            return
        skipped = getattr(runner.optim_wrapper, 'skipped_steps', None)
        if skipped is not None:
            runner.logger.warning(f'non-finite loss ({value}) at iteration {runner.iter + 1}: '
                                  f'step skipped ({skipped} skipped so far)')
            return
        last = runner.message_hub.get_info('last_ckpt') or 'none (no checkpoint saved yet)'
        raise RuntimeError(
            f'non-finite loss ({value}) at iteration {runner.iter + 1} (epoch {runner.epoch + 1}); '
            f'training stopped before saving. Last good checkpoint: {last}. Resume from it with '
            f'`tools/train.py CONFIG --resume {last}` after lowering the lr or lengthening the '
            f"warm-up, or skip such steps with optim_wrapper type 'mae_mm.SkipNonFiniteOptimWrapper'.")
