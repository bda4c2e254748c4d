"""BMC's token-weighted DPO loss, fused with the LM head so ``[tokens, vocab]`` logits never exist.

BMC (Bridging and Modeling Correlations) scores a response by ``sum_t w_t * log p_t`` with
``w_t = 1 + d_t * min(1 / p_t, delta)``: tokens that differ between the chosen and rejected
responses (``d_t = 1``) weigh more the less confident the model is about them. The weights are
constants for autograd. The sequence scores enter the DPO sigmoid loss.

Batches follow Liger's and TRL's layout: the first half of the batch holds the chosen sequences,
the second half the rejected ones, pair ``i`` being rows ``i`` and ``B/2 + i``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from alignkit.kernels import linear_logprobs, logits_logprobs

REF_WEIGHTINGS = ("reference", "policy")

__all__ = [
    "REF_WEIGHTINGS",
    "BMCFusedLinearLoss",
    "BMCLossOutput",
    "bmc_loss",
    "bmc_token_weights",
    "dpo_sigmoid_loss",
    "weighted_token_logps",
    "weighted_token_logps_from_logits",
]


def bmc_token_weights(
    token_logps: torch.Tensor, varied_mask: torch.Tensor, delta: float = 2.0
) -> torch.Tensor:
    """BMC weights ``1 + d_t * min(1 / p_t, delta)``, detached, in float32 (float64 stays).

    ``token_logps`` are the model's log-probs of the target tokens; ``varied_mask`` marks the
    tokens that differ between the pair (bool or 0/1, same shape).
    """
    if varied_mask.shape != token_logps.shape:
        raise ValueError(
            f"varied_mask {tuple(varied_mask.shape)} must match token_logps "
            f"{tuple(token_logps.shape)}"
        )
    if delta < 1.0:
        # 1/p >= 1, so delta < 1 would turn the clamp into a constant weight; almost surely a typo.
        raise ValueError(f"delta must be >= 1; got {delta}")
    logps = token_logps.detach()
    dtype = torch.float64 if logps.dtype == torch.float64 else torch.float32
    inverse_prob = torch.exp(-logps.to(dtype)).clamp(max=delta)
    return 1.0 + varied_mask.to(dtype) * inverse_prob


def _flatten(hidden: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if hidden.dim() == 3:
        if targets.shape != hidden.shape[:2]:
            raise ValueError(
                f"targets {tuple(targets.shape)} must be [B, T] = {tuple(hidden.shape[:2])}"
            )
        return hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1)
    if hidden.dim() == 2:
        if targets.dim() != 1:
            raise ValueError(f"with [N, H] inputs targets must be [N]; got {tuple(targets.shape)}")
        return hidden, targets
    raise ValueError(f"expected [B, T, {'H'}] or [N, H] inputs; got {tuple(hidden.shape)}")


def _weighted_sums(
    token_logps: torch.Tensor,
    targets: torch.Tensor,
    token_weights: torch.Tensor | None,
    varied_mask: torch.Tensor | None,
    delta: float,
    ignore_index: int,
) -> torch.Tensor:
    valid = targets != ignore_index
    if token_weights is not None:
        if token_weights.shape != token_logps.shape:
            raise ValueError(
                f"token_weights {tuple(token_weights.shape)} must match targets "
                f"{tuple(token_logps.shape)}"
            )
        weights = token_weights.detach().to(token_logps.dtype)
    elif varied_mask is not None:
        weights = bmc_token_weights(token_logps, varied_mask, delta).to(token_logps.dtype)
    else:
        weights = None
    scores = token_logps if weights is None else weights * token_logps
    # where(), not a product with the mask: a weight of inf or nan at an ignored position must
    # not leak into the sum.
    scores = torch.where(valid, scores, torch.zeros_like(scores))
    return scores.sum(dim=-1)


def _as_sequences(token_logps: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return token_logps.view(shape) if len(shape) == 2 else token_logps.view(1, -1)


def _with_sums(
    flat_logps: torch.Tensor,
    flat_targets: torch.Tensor,
    shape: torch.Size,
    token_weights: torch.Tensor | None,
    varied_mask: torch.Tensor | None,
    delta: float,
    ignore_index: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reshape flat log-probs to ``shape`` and add the per-sequence weighted sums."""
    for name, extra in (("token_weights", token_weights), ("varied_mask", varied_mask)):
        if extra is not None and extra.shape != shape:
            raise ValueError(f"{name} {tuple(extra.shape)} must match targets {tuple(shape)}")
    token_logps = _as_sequences(flat_logps, shape)
    sums = _weighted_sums(
        token_logps,
        _as_sequences(flat_targets, shape),
        None if token_weights is None else _as_sequences(token_weights, shape),
        None if varied_mask is None else _as_sequences(varied_mask, shape),
        delta,
        ignore_index,
    )
    return token_logps.view(shape), sums


def weighted_token_logps(
    hidden: torch.Tensor,
    lm_head_weight: torch.Tensor,
    targets: torch.Tensor,
    token_weights: torch.Tensor | None = None,
    *,
    bias: torch.Tensor | None = None,
    ignore_index: int = -100,
    varied_mask: torch.Tensor | None = None,
    delta: float = 2.0,
    impl: str = "auto",
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs and per-sequence weighted sums, straight from hidden states.

    Args:
        hidden: ``[B, T, H]`` (or ``[N, H]``, treated as one sequence) final hidden states,
            already aligned with ``targets`` (shift them as for a causal LM loss).
        lm_head_weight: ``[V, H]``. ``bias``: optional ``[V]``.
        targets: ``[B, T]`` (or ``[N]``) token ids; ``ignore_index`` marks positions to skip.
        token_weights: optional ``[B, T]`` weights (no gradient flows into them).
        varied_mask: used when ``token_weights`` is None: BMC weights
            ``1 + d_t * min(1 / p_t, delta)`` from the detached probabilities computed here.
            With neither, every weight is 1.
        impl: ``"auto"`` (Triton on CUDA when importable), ``"triton"`` or ``"torch"``.
        chunk_size: vocabulary columns per chunk (memory ~ ``N * chunk_size`` floats);
            default fits a fixed budget.

    Returns:
        ``(token_logps, weighted_sums)``: ``token_logps`` ``[B, T]`` float32 (float64 for float64
        inputs), 0 at ignored positions; ``weighted_sums`` ``[B]`` (``[1]`` for ``[N, H]``
        input) ``= sum_t w_t * token_logps_t`` over non-ignored tokens. Both are differentiable
        w.r.t. ``hidden``, ``lm_head_weight`` and ``bias``.
    """
    flat_hidden, flat_targets = _flatten(hidden, targets)
    flat_logps = linear_logprobs(
        flat_hidden, lm_head_weight, bias, flat_targets, ignore_index, chunk_size, impl
    )
    return _with_sums(
        flat_logps, flat_targets, targets.shape, token_weights, varied_mask, delta, ignore_index
    )


def weighted_token_logps_from_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    token_weights: torch.Tensor | None = None,
    *,
    ignore_index: int = -100,
    varied_mask: torch.Tensor | None = None,
    delta: float = 2.0,
    impl: str = "auto",
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`weighted_token_logps` for callers that already hold ``logits`` ``[B, T, V]``."""
    if logits.dim() == 3:
        if targets.shape != logits.shape[:2]:
            raise ValueError(
                f"targets {tuple(targets.shape)} must be [B, T] = {tuple(logits.shape[:2])}"
            )
        flat_logits, flat_targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    elif logits.dim() == 2 and targets.dim() == 1:
        flat_logits, flat_targets = logits, targets
    else:
        raise ValueError(
            f"expected logits [B, T, V] with targets [B, T], or [N, V] with [N]; got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    flat_logps = logits_logprobs(flat_logits, flat_targets, ignore_index, chunk_size, impl)
    return _with_sums(
        flat_logps, flat_targets, targets.shape, token_weights, varied_mask, delta, ignore_index
    )


def dpo_sigmoid_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPO sigmoid loss on sequence scores, as TRL's default ``loss_type="sigmoid"``.

    Returns ``(loss, chosen_rewards, rejected_rewards)``: the mean over pairs of
    ``-log sigmoid(beta * ((pc - rc) - (pr - rr)))`` and the detached per-pair rewards
    ``beta * (pc - rc)`` and ``beta * (pr - rr)``.
    """
    chosen_logratios = policy_chosen - ref_chosen
    rejected_logratios = policy_rejected - ref_rejected
    loss = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean()
    return loss, (beta * chosen_logratios).detach(), (beta * rejected_logratios).detach()


class BMCLossOutput(NamedTuple):
    """What :func:`bmc_loss` returns; every field but ``loss`` is detached."""

    loss: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor
    policy_chosen_logps: torch.Tensor
    policy_rejected_logps: torch.Tensor
    ref_chosen_logps: torch.Tensor
    ref_rejected_logps: torch.Tensor


def _split_pairs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape[0] % 2:
        raise ValueError(f"batch must hold chosen then rejected halves; got {x.shape[0]} rows")
    half = x.shape[0] // 2
    return x[:half], x[half:]


def bmc_loss(
    policy_hidden: torch.Tensor,
    policy_weight: torch.Tensor,
    targets: torch.Tensor,
    varied_mask: torch.Tensor | None,
    ref_hidden: torch.Tensor | None = None,
    ref_weight: torch.Tensor | None = None,
    *,
    policy_bias: torch.Tensor | None = None,
    ref_bias: torch.Tensor | None = None,
    ref_token_logps: torch.Tensor | None = None,
    beta: float = 0.05,
    delta: float = 2.0,
    ref_weighting: str = "reference",
    ignore_index: int = -100,
    impl: str = "auto",
    chunk_size: int | None = None,
) -> BMCLossOutput:
    """The BMC loss for a batch of ``[chosen; rejected]`` sequences.

    Args:
        policy_hidden: ``[2P, T, H]`` policy hidden states, chosen rows first.
        policy_weight / policy_bias: the policy LM head.
        targets: ``[2P, T]`` target ids (``ignore_index`` on prompt and padding).
        varied_mask: ``[2P, T]`` 1 on BMC's varied tokens; ``None`` gives standard DPO.
        ref_hidden / ref_weight / ref_bias: the frozen reference model's hidden states and head
            (``ref_weight`` defaults to ``policy_weight``); or pass ``ref_token_logps``
            ``[2P, T]`` computed earlier.
        ref_weighting: ``"reference"`` (default, as BMC's reference code): reference scores use
            weights from the reference's own probabilities; ``"policy"``: they use the policy's.
    """
    if ref_weighting not in REF_WEIGHTINGS:
        raise ValueError(f"ref_weighting must be one of {REF_WEIGHTINGS}; got {ref_weighting!r}")
    policy_logps, policy_sums = weighted_token_logps(
        policy_hidden,
        policy_weight,
        targets,
        bias=policy_bias,
        ignore_index=ignore_index,
        varied_mask=varied_mask,
        delta=delta,
        impl=impl,
        chunk_size=chunk_size,
    )
    with torch.no_grad():
        if ref_token_logps is None:
            if ref_hidden is None:
                raise ValueError("bmc_loss needs ref_hidden or ref_token_logps")
            ref_token_logps, _ = weighted_token_logps(
                ref_hidden,
                policy_weight if ref_weight is None else ref_weight,
                targets,
                bias=ref_bias,
                ignore_index=ignore_index,
                impl=impl,
                chunk_size=chunk_size,
            )
        if ref_token_logps.shape != policy_logps.shape:
            raise ValueError(
                f"ref_token_logps {tuple(ref_token_logps.shape)} must be "
                f"{tuple(policy_logps.shape)}"
            )
        ref_token_logps = ref_token_logps.to(policy_logps.dtype)
        weight_source = ref_token_logps if ref_weighting == "reference" else policy_logps
        ref_weights = (
            None if varied_mask is None else bmc_token_weights(weight_source, varied_mask, delta)
        )
        ref_sums = _weighted_sums(ref_token_logps, targets, ref_weights, None, delta, ignore_index)
    policy_chosen, policy_rejected = _split_pairs(policy_sums)
    ref_chosen, ref_rejected = _split_pairs(ref_sums)
    loss, chosen_rewards, rejected_rewards = dpo_sigmoid_loss(
        policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta
    )
    return BMCLossOutput(
        loss,
        chosen_rewards,
        rejected_rewards,
        policy_chosen.detach(),
        policy_rejected.detach(),
        ref_chosen,
        ref_rejected,
    )


class BMCFusedLinearLoss(torch.nn.Module):
    """``nn.Module`` form of :func:`bmc_loss`, call-compatible with Liger's fused-linear DPO loss.

    ``forward(lin_weight, _input, target, bias=None, ref_input=None, ref_weight=None,
    ref_bias=None, varied_mask=None)`` takes the arguments of
    ``liger_kernel.chunked_loss.LigerFusedLinearDPOLoss.forward`` in the same order, plus the
    BMC ``varied_mask`` (``None``: plain DPO). It returns ``(loss, (chosen_logps,
    rejected_logps, chosen_rewards, rejected_rewards))``; Liger's auxiliary tuple also carries
    mean logits and an NLL term, which this loss does not compute.
    """

    def __init__(
        self,
        ignore_index: int = -100,
        beta: float = 0.05,
        delta: float = 2.0,
        use_ref_model: bool = True,
        ref_weighting: str = "reference",
        impl: str = "auto",
        chunk_size: int | None = None,
    ):
        super().__init__()
        if ref_weighting not in REF_WEIGHTINGS:
            raise ValueError(
                f"ref_weighting must be one of {REF_WEIGHTINGS}; got {ref_weighting!r}"
            )
        self.ignore_index = ignore_index
        self.beta = beta
        self.delta = delta
        self.use_ref_model = use_ref_model
        self.ref_weighting = ref_weighting
        self.impl = impl
        self.chunk_size = chunk_size

    def forward(
        self,
        lin_weight: torch.Tensor,
        _input: torch.Tensor,
        target: torch.Tensor,
        bias: torch.Tensor | None = None,
        ref_input: torch.Tensor | None = None,
        ref_weight: torch.Tensor | None = None,
        ref_bias: torch.Tensor | None = None,
        varied_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        ref_token_logps = None
        if not self.use_ref_model:
            ref_token_logps = torch.zeros(target.shape, dtype=torch.float32, device=target.device)
        elif ref_input is None:
            raise ValueError("use_ref_model=True needs ref_input")
        out = bmc_loss(
            _input,
            lin_weight,
            target,
            varied_mask,
            ref_input,
            ref_weight,
            policy_bias=bias,
            ref_bias=ref_bias,
            ref_token_logps=ref_token_logps,
            beta=self.beta,
            delta=self.delta,
            ref_weighting=self.ref_weighting,
            ignore_index=self.ignore_index,
            impl=self.impl,
            chunk_size=self.chunk_size,
        )
        return out.loss, (
            out.policy_chosen_logps,
            out.policy_rejected_logps,
            out.chosen_rewards,
            out.rejected_rewards,
        )
