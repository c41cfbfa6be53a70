from .attention import Attention
from .block import (Block, LayerScale, Mlp, bf16_stream, window_partition,
                    window_unpartition)
from .drop_path import DropPath
from .masking import (check_mask_counts, gather_tokens, mask_to_ids, masked_ids,
                      num_masked_patches, random_mask)
from .patch_embed import PatchEmbed
from .pos_embed import resize_pos_embed, sincos_pos_embed_2d
from .rel_pos import RelativePositionBias, decomposed_rel_pos

__all__ = [
    'Attention', 'Block', 'DropPath', 'bf16_stream', 'LayerScale', 'Mlp', 'PatchEmbed', 'RelativePositionBias',
    'check_mask_counts', 'decomposed_rel_pos', 'gather_tokens', 'mask_to_ids', 'masked_ids',
    'num_masked_patches', 'random_mask', 'resize_pos_embed', 'sincos_pos_embed_2d',
    'window_partition', 'window_unpartition'
]
