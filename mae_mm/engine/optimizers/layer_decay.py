"""Layer-wise learning-rate decay (BEiT, MAE fine-tuning, ViTDet) for any model holding a ViT."""
import re
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor

from mae_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS

# a parameter of block N of a ViT: '<prefix>blocks.N.<rest>' ('decoder_blocks' does not match)
BLOCK_NAME = re.compile(r'(?:^|(?<=\.))blocks\.(\d+)\.')
# the ViT's parameters in front of the first block: they get the deepest decay (layer id 0)
EMBED_NAMES = ('patch_embed', 'cls_token', 'pos_embed', 'encoder_mask_token')
# matrices that are still kept free of weight decay (every 1-d parameter is, too)
NO_DECAY_NAMES = ('cls_token', 'pos_embed', 'mask_token', 'encoder_mask_token', 'rel_pos_h',
                  'rel_pos_w', 'relative_position_bias_table')
PARAMWISE_KEYS = ('layer_decay_rate', 'num_layers', 'vit_prefix')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scale each ViT layer's learning rate by ``layer_decay_rate ** depth_from_top``.

    With ``L = num_layers`` blocks, the layer id of a parameter is 0 for the ViT's
    embeddings (``patch_embed``, ``cls_token``, ``pos_embed``), ``N + 1`` for block
    ``blocks.N`` and ``L + 1`` for everything else (the ViT's final norm, necks, heads).
    Its lr is ``lr * layer_decay_rate ** (L + 1 - layer_id)``: the heads train at the full
    lr, the last block at ``lr * rate``, the embeddings at ``lr * rate ** (L + 1)``.
    Weight decay is 0 for every 1-d parameter (norms, biases, LayerScale) and for tokens,
    position embeddings and relative position terms; the optimizer's ``weight_decay``
    elsewhere. Parameters are grouped by (layer id, decay), so the optimizer steps a few
    groups, not one per tensor.

    Works in mmdet, mmseg and mmpretrain configs alike::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.1),
            constructor='mae_mm.LayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.7))

    Args:
        optim_wrapper_cfg (dict): The optim wrapper config; its ``optimizer`` needs ``lr``.
        paramwise_cfg (dict): ``layer_decay_rate`` (float in (0, 1], required);
            ``num_layers`` (int, optional): the ViT's block count, inferred as the
            largest block index + 1; ``vit_prefix`` (str, optional): where the ViT sits in
            the model, e.g. ``'backbone.'``, inferred from the block names when the model
            holds one ViT.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        unknown = set(self.paramwise_cfg) - set(PARAMWISE_KEYS)
        if unknown:
            raise ValueError(f'LayerDecayOptimWrapperConstructor got unknown paramwise_cfg keys '
                             f'{sorted(unknown)}; it takes {PARAMWISE_KEYS}')
        rate = self.paramwise_cfg.get('layer_decay_rate')
        if rate is None or not 0.0 < rate <= 1.0:
            raise ValueError(f'paramwise_cfg.layer_decay_rate must lie in (0, 1], got {rate!r}; '
                             f'e.g. 0.7 for ViT-B, 0.8 for ViT-L (ViTDet)')
        if self.base_lr is None:
            raise ValueError('layer decay scales the optimizer\'s lr: set optimizer.lr')
        self.decay_rate = rate

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        """Append the (layer id, decay) parameter groups of ``module`` to ``params``."""
        named = list(module.named_parameters())
        prefix = self._vit_prefix([name for name, _ in named])
        num_layers = self._num_layers([name for name, _ in named], prefix)
        groups: Dict[Tuple[int, bool], dict] = {}
        for name, param in named:
            key = (self.layer_id(name, prefix, num_layers), self.has_decay(name, param))
            if key not in groups:
                groups[key] = self._new_group(*key, num_layers)
            groups[key]['params'].append(param)
        params.extend(groups[key] for key in sorted(groups))
        self._log(groups, prefix, num_layers)

    @staticmethod
    def layer_id(name: str, prefix: str, num_layers: int) -> int:
        """0 for the ViT's embeddings, N + 1 for ``blocks.N``, ``num_layers + 1`` otherwise."""
        if not name.startswith(prefix):
            return num_layers + 1
        local = name[len(prefix):]
        if local.split('.')[0] in EMBED_NAMES:
            return 0
        match = re.match(r'blocks\.(\d+)\.', local)
        return int(match.group(1)) + 1 if match else num_layers + 1

    @staticmethod
    def has_decay(name: str, param: nn.Parameter) -> bool:
        """Weight decay only for matrices / kernels that are not tokens or position terms."""
        return param.ndim > 1 and name.split('.')[-1] not in NO_DECAY_NAMES

    def _vit_prefix(self, names: List[str]) -> str:
        """The ViT's place in the model: the text in front of ``blocks.N.``."""
        given = self.paramwise_cfg.get('vit_prefix')
        found = sorted({name[:m.start()] for name in names for m in [BLOCK_NAME.search(name)] if m})
        if given is not None:
            if given not in found:
                raise ValueError(f'paramwise_cfg.vit_prefix={given!r} holds no blocks.N; the '
                                 f'model has ViT blocks under {found}')
            return given
        if len(found) != 1:
            raise ValueError(f'layer decay needs one ViT with parameters named '
                             f'"<prefix>blocks.N.*"; found blocks under {found}. '
                             f'Set paramwise_cfg.vit_prefix to one of them')
        return found[0]

    def _num_layers(self, names: List[str], prefix: str) -> int:
        """``paramwise_cfg.num_layers``, checked against (or inferred from) the block names."""
        indices = [int(m.group(1)) for name in names if name.startswith(prefix)
                   for m in [re.match(r'blocks\.(\d+)\.', name[len(prefix):])] if m]
        inferred = max(indices) + 1
        given = self.paramwise_cfg.get('num_layers')
        if given is not None and given < inferred:
            raise ValueError(f'paramwise_cfg.num_layers={given} but the ViT at {prefix!r} has '
                             f'{inferred} blocks; set num_layers={inferred} or leave it out')
        return inferred if given is None else given

    def _new_group(self, layer_id: int, decay: bool, num_layers: int) -> dict:
        scale = self.decay_rate**(num_layers + 1 - layer_id)
        group = dict(params=[], lr=self.base_lr * scale, lr_scale=scale, layer_id=layer_id)
        if not decay:
            group['weight_decay'] = 0.0
        elif self.base_wd is not None:
            group['weight_decay'] = self.base_wd
        return group

    def _log(self, groups: Dict[Tuple[int, bool], dict], prefix: str, num_layers: int) -> None:
        lines = [f'layer {lid:>2} {"decay" if decay else "no-decay":>8}: lr x {g["lr_scale"]:.4g}, '
                 f'{len(g["params"])} tensors' for (lid, decay), g in sorted(groups.items())]
        MMLogger.get_current_instance().info(
            f'layer-wise lr decay {self.decay_rate} over {num_layers} blocks of the ViT at '
            f'{prefix!r}:\n' + '\n'.join(lines))
