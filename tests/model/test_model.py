"""Model build / save / load and the nanoGPT import (tiny models, no downloads)."""
from __future__ import annotations

import pytest
import torch

from styletransfer.errors import UserError
from styletransfer.model.build import build_model, load_model, save_model
from styletransfer.model.nanogpt import import_nanogpt
from styletransfer.config import ModelConfig
from support.nanogpt import NanoGPT

VOCAB = 50


def tiny(arch: str, context: int = 32) -> ModelConfig:
    return ModelConfig(arch=arch, n_layer=2, n_head=2, n_embd=16, context=context)


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_round_trip_gives_identical_logits(tmp_path, arch):
    torch.manual_seed(0)
    model = build_model(tiny(arch), VOCAB, pad_id=0, bos_id=1, eos_id=2).eval()
    assert model.dtype == torch.float32 and model.config.vocab_size == VOCAB
    assert model.config.pad_token_id == 0 and model.config.bos_token_id == 1 and model.config.eos_token_id == 2
    save_model(model, tmp_path / "run")
    assert (tmp_path / "run" / "model.safetensors").is_file()
    loaded = load_model(tmp_path / "run")
    assert type(loaded) is type(model) and not loaded.training
    ids = torch.randint(0, VOCAB, (2, 20))
    assert torch.equal(logits_of(model, ids), logits_of(loaded, ids))


def test_llama_shape_follows_recipe():
    model = build_model(ModelConfig(n_layer=3, n_head=4, n_embd=64, context=48), VOCAB, 0, 1, 2)
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.num_attention_heads, cfg.hidden_size) == (3, 4, 64)
    assert cfg.max_position_embeddings == 48 and cfg.intermediate_size == 256
    assert cfg.tie_word_embeddings and model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert cfg._attn_implementation == "sdpa"


def test_save_is_atomic_and_keeps_other_files(tmp_path, monkeypatch):
    run = tmp_path / "run"
    model = build_model(tiny("llama"), VOCAB, 0, 1, 2)

    def broken_save(folder, *args, **kwargs):
        (folder / "config.json").write_text("{half")  # a partial write, then the crash
        raise KeyboardInterrupt

    # First save crashes: no folder of the final name, no temporary left behind.
    monkeypatch.setattr(model, "save_pretrained", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_model(model, run)
    assert not run.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    save_model(model, run)
    (run / "tokenizer.json").write_text("{}")
    before = (run / "model.safetensors").read_bytes()
    # A crash while replacing it leaves the old checkpoint complete.
    monkeypatch.setattr(model, "save_pretrained", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_model(model, run)
    assert (run / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    monkeypatch.undo()
    # A successful replace keeps the files other steps wrote (tokenizer, recipe).
    save_model(model, run)
    assert (run / "tokenizer.json").read_text() == "{}"
    load_model(run)


def test_load_rejects_what_is_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not an mst run"):
        load_model(tmp_path / "empty")
    (tmp_path / "noweights").mkdir()
    (tmp_path / "noweights" / "config.json").write_text("{}")
    with pytest.raises(UserError, match="no model weights"):
        load_model(tmp_path / "noweights")
    with pytest.raises(UserError, match="no such run folder"):
        load_model(tmp_path / "missing")
    # Corrupt weights: one clear line, not a traceback from safetensors.
    save_model(build_model(tiny("gpt2"), VOCAB, 0, 1, 2), tmp_path / "corrupt")
    (tmp_path / "corrupt" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot load"):
        load_model(tmp_path / "corrupt")


@pytest.mark.parametrize("bias,compiled", [(True, False), (False, True)])
def test_import_nanogpt_matches_logits(tmp_path, bias, compiled):
    torch.manual_seed(1)
    args = dict(n_layer=2, n_head=2, n_embd=16, block_size=24, bias=bias, vocab_size=VOCAB, dropout=0.0)
    nano = NanoGPT(**args).eval()
    state = nano.state_dict()
    if compiled:  # checkpoints saved from torch.compile'd models prefix every key
        state = {f"_orig_mod.{k}": v for k, v in state.items()}
    torch.save({"model": state, "model_args": args, "iter_num": 10, "best_val_loss": 1.5}, tmp_path / "ckpt.pt")

    out = import_nanogpt(tmp_path / "ckpt.pt", tmp_path / "imported")
    model = load_model(out)
    assert model.config.model_type == "gpt2" and model.config.n_positions == 24
    ids = torch.randint(0, VOCAB, (2, 24))
    with torch.no_grad():
        expected = nano(ids)
    torch.testing.assert_close(logits_of(model, ids), expected, atol=1e-4, rtol=0)
    if not bias:  # nanoGPT without biases is GPT-2 with zero biases
        assert all(not p.any() for name, p in model.named_parameters() if name.endswith(".bias"))

    # A smaller vocab keeps the first rows of the (possibly padded) embedding.
    small = load_model(import_nanogpt(tmp_path / "ckpt.pt", tmp_path / "small", vocab_size=40))
    torch.testing.assert_close(logits_of(small, ids.clamp_max(39)), nano(ids.clamp_max(39))[..., :40].detach(),
                               atol=1e-4, rtol=0)


def test_import_nanogpt_bad_files(tmp_path):
    with pytest.raises(UserError, match="no such checkpoint"):
        import_nanogpt(tmp_path / "missing.pt", tmp_path / "out")
    (tmp_path / "corrupt.pt").write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="not a readable nanoGPT checkpoint"):
        import_nanogpt(tmp_path / "corrupt.pt", tmp_path / "out")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a nanoGPT checkpoint"):
        import_nanogpt(tmp_path / "other.pt", tmp_path / "out")
    assert not (tmp_path / "out").exists()
