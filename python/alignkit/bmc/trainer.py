"""`BMCTrainer`: TRL's `DPOTrainer` with BMC's token-weighted scores.

TRL tokenizes the `prompt` / `chosen` / `rejected` pairs as usual; this trainer adds, per pair,
the varied-token masks (Rust difflib-exact matcher, stop words excluded), pads them alongside
the batch, and replaces the loss: sequence scores are `sum_t w_t * log p_t` with
`w_t = 1 + d_t * min(1 / p_t, delta)` from the detached probabilities, computed from the final
hidden states and the LM head by `alignkit.bmc.loss.bmc_loss` (fused, never materialising the
`[batch, seq, vocab]` logits). The frozen reference model's scores are weighted by its own
confidence by default (`ref_weighting="reference"`), or by the policy's (`"policy"`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import types
from typing import Any

import torch
from trl import DPOConfig, DPOTrainer
from trl.trainer.dpo_trainer import DataCollatorForPreference

from alignkit.bmc.loss import REF_WEIGHTINGS, bmc_loss
from alignkit.bmc.presets import DEFAULTS, preset_settings
from alignkit.bmc.varied import STOP_WORD_RULES, stop_word_token_ids, varied_token_masks

VARIED_COLUMNS = ("chosen_varied", "rejected_varied")


def _shared(name: str, help: str) -> Any:
    """A field whose default is the shared BMC default (`alignkit.bmc.presets.DEFAULTS`)."""
    return dataclasses.field(default=DEFAULTS[name], metadata={"help": help})


@dataclasses.dataclass
class BMCConfig(DPOConfig):
    """`DPOConfig` plus BMC's settings. Defaults are the shared BMC defaults (the paper's
    optimisation settings: lr 5e-7, cosine, warmup 0.1, one epoch, seed 42; beta 0.05, delta
    2.0), the same as `alignkit bmc train`'s; `BMCConfig.from_preset` gives a paper setup."""

    beta: float = _shared("beta", "DPO temperature (0.05 QA/math, 0.01 UltraFeedback)")
    learning_rate: float = _shared("learning_rate", "peak learning rate")
    lr_scheduler_type: str = _shared("lr_scheduler_type", "learning-rate schedule")
    warmup_ratio: float = _shared("warmup_ratio", "fraction of steps for linear warmup")
    num_train_epochs: float = _shared("num_train_epochs", "training epochs")
    seed: int = _shared("seed", "random seed")
    per_device_train_batch_size: int = _shared("per_device_train_batch_size", "pairs per device")
    gradient_accumulation_steps: int = _shared("gradient_accumulation_steps", "steps per update")
    max_length: int | None = _shared("max_length", "max prompt+response tokens")
    logging_steps: float = _shared("logging_steps", "log every this many steps")
    bf16: bool | None = _shared("bf16", "bfloat16 mixed precision")
    bmc_delta: float = _shared(
        "bmc_delta", "cap of the inverse-probability weight of varied tokens"
    )
    ref_weighting: str = dataclasses.field(
        default="reference",
        metadata={"help": "weights of the reference scores: 'reference' or 'policy' confidence"},
    )
    loss_impl: str = dataclasses.field(
        default="auto", metadata={"help": "BMC loss implementation: auto, triton or torch"}
    )
    exclude_stop_words: bool = dataclasses.field(
        default=True, metadata={"help": "leave single-token English stop words out of the masks"}
    )
    stop_word_rule: str = dataclasses.field(
        default="nltk",
        metadata={"help": "stop-word selection: 'nltk' (the authors' rule) or 'alignkit'"},
    )

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> BMCConfig:
        """The paper setup `name` (see `alignkit.bmc.presets.PRESETS`), `overrides` on top."""
        return cls(**{**preset_settings(name), **overrides})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ref_weighting not in REF_WEIGHTINGS:
            raise ValueError(f"ref_weighting must be one of {REF_WEIGHTINGS}")
        if self.bmc_delta < 1.0:
            raise ValueError("bmc_delta must be >= 1")
        if self.stop_word_rule not in STOP_WORD_RULES:
            raise ValueError(f"stop_word_rule must be one of {STOP_WORD_RULES}")
        if self.loss_impl not in ("auto", "triton", "torch"):
            raise ValueError("loss_impl must be 'auto', 'triton' or 'torch'")
        if list(self.loss_type) != ["sigmoid"]:
            raise ValueError("BMC uses the DPO sigmoid loss; loss_type must be 'sigmoid'")
        if self.precompute_ref_log_probs:
            raise ValueError(
                "precompute_ref_log_probs is not supported: BMC weights the reference's per-token "
                "log-probs, which TRL's precomputation sums away"
            )


class DataCollatorForBMC(DataCollatorForPreference):
    """TRL's preference collator plus `varied_mask` `[2B, T]`, aligned with `input_ids`
    (0 on prompt and padding), truncated and padded the same way."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        output = super().torch_call(examples)
        rows = [[0] * len(e["prompt_ids"]) + list(e["chosen_varied"]) for e in examples]
        rows += [[0] * len(e["prompt_ids"]) + list(e["rejected_varied"]) for e in examples]
        width = output["input_ids"].shape[1]
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, row in enumerate(rows):
            if self.max_length is not None and len(row) > self.max_length:
                row = (
                    row[: self.max_length]
                    if self.truncation_mode == "keep_start"
                    else row[-self.max_length :]
                )
            mask[i, : len(row)] = torch.tensor(row, dtype=torch.bool)
        output["varied_mask"] = mask
        return output


def _causal_lm(model: Any) -> Any:
    """The `...ForCausalLM` module inside a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _check_plain_lm_head(model: Any) -> None:
    """Refuse models whose logits are not `hidden @ W.T (+ b)`: the fused loss would be wrong."""
    config = model.config.get_text_config()
    if getattr(config, "final_logit_softcapping", None) is not None:
        raise ValueError(f"{type(model).__name__} soft-caps its logits; BMCTrainer cannot fuse it")
    for name in ("logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling"):
        value = getattr(config, name, None)
        if value is not None and value != 1:
            raise ValueError(
                f"{type(model).__name__} scales its logits ({name}={value}); BMCTrainer's fused "
                "loss takes plain LM-head logits"
            )


def add_hidden_forward(model: Any) -> None:
    """Let `model(..., bmc_hidden=True)` return the final (normed) hidden states `[B, T, H]`.

    Called through the model as the trainer holds it (DDP, FSDP, PEFT wrappers), so their
    forward hooks run; without `bmc_hidden` the forward is unchanged.
    """
    lm = _causal_lm(model)
    if getattr(lm, "_alignkit_bmc_hidden", False):
        return
    _check_plain_lm_head(lm)
    original_forward = lm.forward

    @functools.wraps(type(lm).forward)
    def forward(self: Any, *args: Any, bmc_hidden: bool = False, **kwargs: Any) -> Any:
        if not bmc_hidden:
            return original_forward(*args, **kwargs)
        kwargs["use_cache"] = False
        return self.base_model(*args, **kwargs).last_hidden_state

    lm.forward = types.MethodType(forward, lm)
    lm._alignkit_bmc_hidden = True


class BMCTrainer(DPOTrainer):
    """TRL `DPOTrainer` training with BMC's confidence-weighted token scores (see module doc).

    Takes the arguments of `DPOTrainer` with a `BMCConfig` as `args`; `stop_token_ids`
    overrides the stop-word ids derived from the tokenizer.
    """

    def __init__(
        self,
        model: Any,
        ref_model: Any = None,
        args: BMCConfig | None = None,
        data_collator: Any = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        *more: Any,
        stop_token_ids: set[int] | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(args, BMCConfig):
            raise TypeError("BMCTrainer needs args=BMCConfig(...)")
        self._stop_token_ids = stop_token_ids
        if data_collator is None:
            if processing_class is None:
                raise ValueError("BMCTrainer needs processing_class (the tokenizer)")
            tokenizer = getattr(processing_class, "tokenizer", processing_class)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = args.pad_token or tokenizer.eos_token
            data_collator = DataCollatorForBMC(
                pad_token_id=tokenizer.pad_token_id,
                max_length=args.max_length,
                truncation_mode=args.truncation_mode,
                pad_to_multiple_of=args.pad_to_multiple_of,
            )
        super().__init__(
            model,
            ref_model,
            args,
            data_collator,
            train_dataset,
            eval_dataset,
            processing_class,
            *more,
            **kwargs,
        )
        add_hidden_forward(self.model)
        if self.ref_model is not None:
            add_hidden_forward(self.ref_model)

    def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str):
        dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        if all(c in (dataset.column_names or []) for c in VARIED_COLUMNS):
            return dataset
        if self._stop_token_ids is None:
            tokenizer = getattr(processing_class, "tokenizer", processing_class)
            self._stop_token_ids = (
                stop_word_token_ids(tokenizer, args.stop_word_rule)
                if args.exclude_stop_words
                else set()
            )
        stop = self._stop_token_ids

        def add_masks(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
            chosen, rejected = varied_token_masks(batch["chosen_ids"], batch["rejected_ids"], stop)
            return {"chosen_varied": chosen, "rejected_varied": rejected}

        kwargs = (
            {"desc": f"BMC varied tokens of {dataset_name}"} if hasattr(dataset, "num_rows") else {}
        )
        return dataset.map(add_masks, batched=True, batch_size=256, **kwargs)

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if self._signature_columns is not None:
            for column in VARIED_COLUMNS:
                if column not in self._signature_columns:
                    self._signature_columns.append(column)

    def _hidden(self, model: Any, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        """Hidden states `[B, T-1, H]` (aligned with the next-token targets) and the LM head."""
        hidden = model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], bmc_hidden=True
        )
        head = _causal_lm(self.accelerator.unwrap_model(model)).get_output_embeddings()
        return hidden[:, :-1], head

    def _reference_hidden(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        from trl.models.utils import disable_gradient_checkpointing
        from trl.trainer.utils import use_adapter

        context: Any = contextlib.nullcontext()
        model = self.ref_model
        if model is None:  # PEFT: the base model without the adapter is the reference
            model = self.accelerator.unwrap_model(self.model)
            name = "ref" if "ref" in getattr(model, "peft_config", {}) else None
            context = use_adapter(model, adapter_name=name)
        with (
            torch.no_grad(),
            disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs),
            context,
        ):
            return self._hidden(model, inputs)

    def _compute_loss(self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool):
        mode = "train" if self.model.training else "eval"
        completion = inputs["completion_mask"][:, 1:]
        targets = inputs["input_ids"][:, 1:].masked_fill(completion == 0, -100)
        varied = inputs["varied_mask"][:, 1:] & completion.bool()
        hidden, head = self._hidden(model, inputs)
        ref_hidden, ref_head = self._reference_hidden(inputs)
        out = bmc_loss(
            hidden,
            head.weight,
            targets,
            varied,
            ref_hidden,
            ref_head.weight,
            policy_bias=getattr(head, "bias", None),
            ref_bias=getattr(ref_head, "bias", None),
            beta=self.args.beta,
            delta=self.args.bmc_delta,
            ref_weighting=self.args.ref_weighting,
            impl=self.args.loss_impl,
        )
        gather = self.accelerator.gather_for_metrics
        metrics = self._metrics[mode]
        chosen_r, rejected_r = gather(out.chosen_rewards), gather(out.rejected_rewards)
        metrics["rewards/chosen"].append(chosen_r.mean().item())
        metrics["rewards/rejected"].append(rejected_r.mean().item())
        metrics["rewards/accuracies"].append((chosen_r > rejected_r).float().mean().item())
        metrics["rewards/margins"].append((chosen_r - rejected_r).mean().item())
        metrics["logps/chosen"].append(gather(out.policy_chosen_logps).mean().item())
        metrics["logps/rejected"].append(gather(out.policy_rejected_logps).mean().item())
        tokens = gather(completion.sum()).sum().clamp(min=1)
        metrics["bmc/varied_fraction"].append((gather(varied.sum()).sum() / tokens).item())
        if mode == "train":
            self._total_train_tokens += gather(inputs["attention_mask"].sum()).sum().item()
        metrics["num_tokens"] = [self._total_train_tokens]
        return (out.loss, out) if return_outputs else out.loss

    def prediction_step(
        self,
        model: Any,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: Any = None,
    ) -> tuple[torch.Tensor, None, None]:
        # The fused loss never builds logits, so evaluation reports the loss and the metrics only.
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None
