"""Analytic FLOPs of an MAE train step (3 x forward: backward costs twice the forward)."""


def _blocks(tokens: int, width: int, depth: int, mlp_ratio: float = 4.0) -> float:
    """Forward FLOPs of ``depth`` Transformer blocks on ``tokens`` tokens of ``width``.

    Per token and block: qkv + proj (4 W^2 multiply-adds), MLP (2 * mlp_ratio * W^2), and
    attention scores + weighted sum (2 * tokens * W); one multiply-add is 2 FLOPs.
    """
    return depth * tokens * 2 * ((4 + 2 * mlp_ratio) * width**2 + 2 * tokens * width)


def mae_train_flops(num_patches: int, num_masked: int, patch_size: int, channels: int,
                    embed_dims: int, depth: int, decoder_dims: int, decoder_depth: int,
                    mask_tokens_in_encoder: bool = False) -> float:
    """FLOPs of one training step for one image (forward + backward = 3 x forward).

    The encoder works on the class token plus the visible patches (all patches when mask
    tokens are in the encoder); the decoder on the class token plus all patches.
    """
    pixels = patch_size * patch_size * channels
    enc_tokens = 1 + (num_patches if mask_tokens_in_encoder else num_patches - num_masked)
    forward = (2 * num_patches * pixels * embed_dims  # patch embedding (every patch)
               + _blocks(enc_tokens, embed_dims, depth)
               + 2 * enc_tokens * embed_dims * decoder_dims  # decoder_embed
               + _blocks(1 + num_patches, decoder_dims, decoder_depth)
               + 2 * num_patches * decoder_dims * pixels)  # decoder_pred
    return 3 * forward
