"""Tiny random-weight diffusers pipelines built from small configs, saved with `save_pretrained`.

The configs are the ones diffusers' own tests use; the tokenizer is built in code so nothing comes from the Hub."""

from __future__ import annotations

from pathlib import Path

WORDS = ("a dog walks in the park cat runs on beach red blue green sun rain city night day "
         "slow fast camera pan zoom close wide shot light dark tree sky sea car road").split()


def tiny_tokenizer():
    """A word-level fast tokenizer (pad=0, eos=1, unk=2) that round-trips through save_pretrained offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    # T5-style: append </s> to every sequence, as the real umt5 tokenizer does.
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=512)


def tiny_umt5(vocab_size: int):
    import torch
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    config = UMT5Config(vocab_size=vocab_size, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                        relative_attention_num_buckets=8)
    return UMT5EncoderModel(config).eval()


def _wan_vae():
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


def _wan_transformer(**extra):
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    kw = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
              text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
              qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    kw.update(extra)
    return WanTransformer3DModel(**kw)


def build_tiny_wan(out_dir: Path) -> Path:
    """Save a tiny text-to-video WanPipeline to `out_dir` (a folder with model_index.json)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline

    tokenizer = tiny_tokenizer()
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=tiny_umt5(len(tokenizer)), vae=_wan_vae(),
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), transformer=_wan_transformer())
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return Path(out_dir)


def build_tiny_wan_i2v(out_dir: Path) -> Path:
    """Save a tiny WanImageToVideoPipeline (Wan 2.2 style: no CLIP image encoder, image latents concatenated)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline

    tokenizer = tiny_tokenizer()
    # in_channels = 16 noise + 4 mask + 16 image latents, as in diffusers' Wan I2V tests.
    transformer = _wan_transformer(in_channels=36)
    pipe = WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=tiny_umt5(len(tokenizer)), vae=_wan_vae(),
                                   scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), transformer=transformer,
                                   image_encoder=None, image_processor=None)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return Path(out_dir)


def build_tiny_wan_vace(out_dir: Path) -> Path:
    """Save a tiny WanVACEPipeline (control video, mask and reference images as extra conditioning)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, WanVACEPipeline, WanVACETransformer3DModel

    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    # vace_in_channels = 2 × 16 video latents + 8×8 mask channels.
    transformer = WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96)
    pipe = WanVACEPipeline(tokenizer=tokenizer, text_encoder=tiny_umt5(len(tokenizer)), vae=_wan_vae(),
                           scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), transformer=transformer)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return Path(out_dir)


def build_tiny_ltx(out_dir: Path, *, condition: bool = False) -> Path:
    """Save a tiny LTXPipeline (the adapter derives image-to-video from it with from_pipe), or with
    condition=True an LTXConditionPipeline (keyframes at any index, as LTX 0.9.5+ checkpoints ship)."""
    import torch
    from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXConditionPipeline, LTXPipeline,
                           LTXVideoTransformer3DModel)
    from transformers import T5Config, T5EncoderModel

    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                             num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32,
                                             num_layers=1, caption_channels=32)
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False), upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False)
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                           num_heads=4, relative_attention_num_buckets=8)).eval()
    cls = LTXConditionPipeline if condition else LTXPipeline
    pipe = cls(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
                       tokenizer=tokenizer, transformer=transformer)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return Path(out_dir)
