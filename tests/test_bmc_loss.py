"""The BMC loss on CPU: the chunked PyTorch path against a float64 full-logits oracle, gradcheck,
the weighting rules, the module, and equality with TRL's and Liger's DPO when all weights are 1.
The Triton kernels under the interpreter are in test_bmc_triton_interpreter.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from alignkit.bmc import (
    BMCFusedLinearLoss,
    bmc_loss,
    bmc_token_weights,
    dpo_sigmoid_loss,
    weighted_token_logps,
    weighted_token_logps_from_logits,
)
from alignkit.kernels import resolve_impl
from alignkit.kernels.reference import naive_linear_logprobs, naive_logits_logprobs


def _case(n_seq, seq, hidden, vocab, seed, dtype=torch.float64, bias=True):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n_seq, seq, hidden, generator=gen, dtype=dtype)
    w = torch.randn(vocab, hidden, generator=gen, dtype=dtype) / hidden**0.5
    b = torch.randn(vocab, generator=gen, dtype=dtype) if bias else None
    targets = torch.randint(0, vocab, (n_seq, seq), generator=gen)
    targets[0, : seq // 2] = -100
    targets[-1] = -100  # a row with every position ignored
    weights = torch.randn(n_seq, seq, generator=gen, dtype=dtype)  # negative ones included
    weights[:, ::3] = 0.0
    return h, w, b, targets, weights


def _oracle(h, w, b, targets, weights):
    """Float64 full logits -> log_softmax -> gather, and the weighted sums."""
    flat = naive_linear_logprobs(
        h.reshape(-1, h.shape[-1]).double(),
        w.double(),
        None if b is None else b.double(),
        targets.reshape(-1),
    ).view(targets.shape)
    keep = targets != -100
    return flat, (weights.double() * flat * keep).sum(-1)


@pytest.mark.parametrize(
    ("n_seq", "seq", "hidden", "vocab", "chunk", "bias", "dtype"),
    [
        (3, 5, 8, 37, 10, True, torch.float64),  # vocab not a multiple of the chunk
        (2, 9, 16, 300, 256, False, torch.float64),
        (4, 7, 12, 1000, None, True, torch.float32),
        (2, 3, 4, 5, 1, True, torch.float32),  # one column per chunk
    ],
)
def test_forward_backward_match_float64_oracle(n_seq, seq, hidden, vocab, chunk, bias, dtype):
    h, w, b, targets, weights = _case(n_seq, seq, hidden, vocab, seed=vocab, dtype=dtype, bias=bias)
    params = [h.requires_grad_(), w.requires_grad_()] + ([b.requires_grad_()] if bias else [])
    logps, sums = weighted_token_logps(
        h, w, targets, weights, bias=b, impl="torch", chunk_size=chunk
    )
    assert logps.shape == targets.shape and sums.shape == (n_seq,)
    gen = torch.Generator().manual_seed(1)
    up_tok = torch.randn(logps.shape, generator=gen, dtype=logps.dtype)
    up_seq = torch.randn(sums.shape, generator=gen, dtype=sums.dtype)
    grads = torch.autograd.grad((logps * up_tok).sum() + (sums * up_seq).sum(), params)

    ref_params = [p.detach().double().requires_grad_() for p in params]
    ref_logps, ref_sums = _oracle(
        ref_params[0], ref_params[1], ref_params[2] if bias else None, targets, weights
    )
    ref_grads = torch.autograd.grad(
        (ref_logps * up_tok.double()).sum() + (ref_sums * up_seq.double()).sum(), ref_params
    )
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(logps.double(), ref_logps, rtol=tol, atol=tol)
    torch.testing.assert_close(sums.double(), ref_sums, rtol=tol, atol=tol)
    assert (logps[-1] == 0).all() and float(sums[-1].detach()) == 0.0
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got.double(), want, rtol=tol * 10, atol=tol * 10)


def test_gradcheck_linear_float64():
    h, w, b, targets, weights = _case(2, 4, 3, 11, seed=5)
    inputs = (h.requires_grad_(), w.requires_grad_(), b.requires_grad_())

    def both_outputs(h, w, b):
        return weighted_token_logps(h, w, targets, weights, bias=b, impl="torch", chunk_size=4)

    assert torch.autograd.gradcheck(both_outputs, inputs)


def test_gradcheck_from_logits_float64():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 3, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[1, -100, 6], [0, 3, -100]])
    weights = torch.tensor([[0.5, 2.0, -1.0], [0.0, 1.5, 3.0]], dtype=torch.float64)

    def both_outputs(logits):
        return weighted_token_logps_from_logits(logits, targets, weights, impl="torch")

    assert torch.autograd.gradcheck(both_outputs, (logits,))


def test_from_logits_matches_linear_path():
    h, w, b, targets, _ = _case(3, 6, 8, 50, seed=9)
    mask = torch.rand(targets.shape, generator=torch.Generator().manual_seed(0)) < 0.5
    logits = (h @ w.T + b).requires_grad_()
    lp_a, sums_a = weighted_token_logps_from_logits(logits, targets, varied_mask=mask, chunk_size=4)
    lp_b, sums_b = weighted_token_logps(h, w, targets, bias=b, varied_mask=mask)
    torch.testing.assert_close(lp_a, lp_b)
    torch.testing.assert_close(sums_a, sums_b)
    (grad,) = torch.autograd.grad(sums_a.sum(), [logits])
    ld = logits.detach().requires_grad_()
    ref = naive_logits_logprobs(ld, targets)
    (ref_grad,) = torch.autograd.grad((bmc_token_weights(ref, mask) * ref).sum(), [ld])
    torch.testing.assert_close(grad, ref_grad)


def test_bmc_weights_follow_the_formula_and_stay_detached():
    logps = torch.log(torch.tensor([[0.9, 0.5, 0.1, 1e-9]], dtype=torch.float64))
    logps.requires_grad_()
    mask = torch.tensor([[1, 1, 1, 0]])
    w = bmc_token_weights(logps, mask, delta=2.0)
    expected = torch.tensor([[1 + 1 / 0.9, 1 + 1 / 0.5, 1 + 2.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(w, expected)
    assert not w.requires_grad
    with pytest.raises(ValueError, match="delta"):
        bmc_token_weights(logps, mask, delta=0.5)


def test_varied_mask_weights_are_constants_for_autograd():
    h, w, b, targets, _ = _case(2, 5, 6, 40, seed=3)
    mask = torch.ones(targets.shape, dtype=torch.bool)
    h.requires_grad_()
    logps, sums = weighted_token_logps(h, w, targets, bias=b, varied_mask=mask, delta=3.0)
    (grad,) = torch.autograd.grad(sums.sum(), [h])
    weights = bmc_token_weights(logps, mask, delta=3.0)
    keep = targets != -100
    torch.testing.assert_close(sums, (weights * logps * keep).sum(-1))
    logps2, _ = weighted_token_logps(h, w, targets, bias=b)
    (grad2,) = torch.autograd.grad((weights * logps2).sum(), [h])
    torch.testing.assert_close(grad, grad2)


def test_flat_inputs_are_one_sequence():
    h, w, b, targets, weights = _case(2, 4, 5, 20, seed=4)
    lp, sums = weighted_token_logps(h.reshape(8, 5), w, targets.reshape(8), weights.reshape(8))
    lp3, sums3 = weighted_token_logps(h, w, targets, weights)
    assert lp.shape == (8,) and sums.shape == (1,)
    torch.testing.assert_close(sums[0], sums3.sum())


def _pairs(pairs=3, seq=6, hidden=8, vocab=64, seed=11):
    h, w, b, targets, _ = _case(2 * pairs, seq, hidden, vocab, seed=seed, bias=False)
    targets[-1, 2:] = 5  # keep every row scored (the oracle case empties the last one)
    ref_h = h + 0.3 * torch.randn(
        h.shape, generator=torch.Generator().manual_seed(1), dtype=h.dtype
    )
    mask = torch.rand(targets.shape, generator=torch.Generator().manual_seed(2)) < 0.4
    return h, ref_h, w, targets, mask


def _trl_dpo_loss(h, ref_h, w, targets, beta):
    """TRL's own per-token log-probs (``selective_log_softmax`` on full logits) and TRL's
    sigmoid-DPO formula ``-logsigmoid(beta * delta_score)`` averaged over pairs."""
    trl_utils = pytest.importorskip("trl.trainer.utils")
    keep = targets != -100
    safe = torch.where(keep, targets, 0)

    def seq_logps(hidden):
        return (trl_utils.selective_log_softmax(hidden @ w.T, safe) * keep).sum(-1)

    policy = seq_logps(h)
    ref = seq_logps(ref_h).detach()
    half = policy.shape[0] // 2
    delta_score = (policy[:half] - ref[:half]) - (policy[half:] - ref[half:])
    return -F.logsigmoid(beta * delta_score).mean()


def test_unit_weights_equal_trl_dpo_loss_and_gradients():
    h, ref_h, w, targets, _ = _pairs()
    hp = h.clone().requires_grad_()
    wp = w.clone().requires_grad_()
    ours = bmc_loss(hp, wp, targets, None, ref_h, beta=0.1, impl="torch", chunk_size=16)
    ours_grads = torch.autograd.grad(ours.loss, [hp, wp])
    ht = h.clone().requires_grad_()
    wt = w.clone().requires_grad_()
    trl_loss = _trl_dpo_loss(ht, ref_h, wt, targets, beta=0.1)
    trl_grads = torch.autograd.grad(trl_loss, [ht, wt])
    torch.testing.assert_close(ours.loss, trl_loss)
    for got, want in zip(ours_grads, trl_grads, strict=True):
        torch.testing.assert_close(got, want)


def test_module_matches_liger_dpo_with_unit_weights():
    liger = pytest.importorskip("liger_kernel.chunked_loss")
    h, ref_h, w, targets, _ = _pairs(seed=12)
    h32, ref32, w32 = h.float(), ref_h.float(), w.float()
    ours_h = h32.clone().requires_grad_()
    loss, (chosen, rejected, chosen_r, rejected_r) = BMCFusedLinearLoss(beta=0.2)(
        w32, ours_h, targets, ref_input=ref32
    )
    loss.backward()
    liger_h = h32.clone().requires_grad_()
    ref_loss, aux = liger.LigerFusedLinearDPOLoss(beta=0.2, compiled=False)(
        w32, liger_h, targets, ref_input=ref32, ref_weight=w32
    )
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chosen, aux[0], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(rejected, aux[1], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(chosen_r, aux[5], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours_h.grad, liger_h.grad, rtol=1e-4, atol=1e-6)


def test_bmc_loss_reference_and_policy_weighting():
    h, ref_h, w, targets, mask = _pairs(seed=13)
    keep = targets != -100
    flat = targets.reshape(-1)

    def token_logps(hidden):
        return naive_linear_logprobs(hidden.reshape(-1, hidden.shape[-1]), w, None, flat).view(
            targets.shape
        )

    pol, ref = token_logps(h), token_logps(ref_h)
    beta = 0.05
    for weighting, ref_weights in (
        ("reference", bmc_token_weights(ref, mask)),
        ("policy", bmc_token_weights(pol, mask)),
    ):
        out = bmc_loss(h, w, targets, mask, ref_h, beta=beta, ref_weighting=weighting)
        pol_sums = (bmc_token_weights(pol, mask) * pol * keep).sum(-1)
        ref_sums = (ref_weights * ref * keep).sum(-1)
        loss, chosen_r, rejected_r = dpo_sigmoid_loss(
            pol_sums[:3], pol_sums[3:], ref_sums[:3], ref_sums[3:], beta
        )
        torch.testing.assert_close(out.loss, loss)
        torch.testing.assert_close(out.ref_chosen_logps, ref_sums[:3])
        torch.testing.assert_close(out.chosen_rewards, chosen_r)
        torch.testing.assert_close(out.rejected_rewards, rejected_r)
    precomputed = bmc_loss(h, w, targets, mask, ref_token_logps=ref, beta=beta)
    default = bmc_loss(h, w, targets, mask, ref_h, beta=beta)
    torch.testing.assert_close(precomputed.loss, default.loss)


def _confident_pairs(pairs=3, seq=6, hidden=8, vocab=64, seed=15):
    """Pairs whose targets are each model's likely tokens (p > 1/delta for delta = 3), so the
    BMC weights 1 + min(1/p, delta) are not clamped and differ between policy and reference."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(vocab, hidden, generator=gen, dtype=torch.float64)
    h = 3.0 * torch.randn(2 * pairs, seq, hidden, generator=gen, dtype=torch.float64)
    ref_h = h + 0.4 * torch.randn(h.shape, generator=gen, dtype=torch.float64)
    targets = (h @ w.T).argmax(-1)

    def probs(hidden):
        return torch.softmax(hidden @ w.T, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)

    # Varied tokens only where both models give p > 0.4 (1/p < 2.5 < delta).
    confident = (probs(h) > 0.4) & (probs(ref_h) > 0.4)
    mask = (torch.rand(targets.shape, generator=gen) < 0.6) & confident
    assert mask.sum() >= 2 * pairs
    return h, ref_h, w, targets, mask


def test_reference_and_policy_weighting_differ_on_confident_targets():
    delta, beta = 3.0, 0.5
    h, ref_h, w, targets, mask = _confident_pairs()
    half = h.shape[0] // 2

    def token_logps(hidden):  # float64 full logits, independent of the chunked path
        return torch.log_softmax(hidden @ w.T, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)

    pol, ref = token_logps(h), token_logps(ref_h)
    # The weights are the formula's, unclamped: 1 + 1/p with p > 1/delta, for both models.
    for lp in (pol, ref):
        weights = bmc_token_weights(lp, mask, delta)
        assert (weights[mask] < 1 + delta).all()
        torch.testing.assert_close(weights[mask], 1 + torch.exp(-lp[mask]))
    assert (torch.exp(-pol[mask]) - torch.exp(-ref[mask])).abs().max() > 0.1

    def expected(weight_source):
        pol_sums = ((1 + mask * torch.exp(-pol)) * pol).sum(-1)
        ref_sums = ((1 + mask * torch.exp(-weight_source)) * ref).sum(-1)
        margin = (pol_sums[:half] - ref_sums[:half]) - (pol_sums[half:] - ref_sums[half:])
        return -F.logsigmoid(beta * margin).mean(), ref_sums

    losses = {}
    for weighting, source in (("reference", ref), ("policy", pol)):
        out = bmc_loss(h, w, targets, mask, ref_h, beta=beta, delta=delta, ref_weighting=weighting)
        loss, ref_sums = expected(source)
        torch.testing.assert_close(out.loss, loss)
        torch.testing.assert_close(out.ref_chosen_logps, ref_sums[:half])
        losses[weighting] = out.loss
    assert abs(losses["reference"] - losses["policy"]) > 1e-3


def test_module_without_reference_model():
    h, _, w, targets, mask = _pairs(seed=14)
    loss, aux = BMCFusedLinearLoss(beta=0.1, use_ref_model=False)(w, h, targets, varied_mask=mask)
    expected = -F.logsigmoid(0.1 * (aux[0] - aux[1])).mean()
    torch.testing.assert_close(loss, expected)


def test_bad_inputs_raise_clear_errors():
    h, w, b, targets, weights = _case(2, 3, 4, 10, seed=1)
    bad = targets.clone()
    bad[1, 0] = 10
    with pytest.raises(ValueError, match="target ids"):
        weighted_token_logps(h, w, bad)
    with pytest.raises(ValueError, match="hidden size"):
        weighted_token_logps(h, w[:, :3], targets)
    with pytest.raises(ValueError, match="targets"):
        weighted_token_logps(h, w, targets[:, :2])
    with pytest.raises(ValueError, match="token_weights"):
        weighted_token_logps(h, w, targets, weights[:, :2])
    with pytest.raises(ValueError, match="impl"):
        weighted_token_logps(h, w, targets, impl="cuda")
    with pytest.raises(ValueError, match="ref_weighting"):
        bmc_loss(h, w, targets, None, h, ref_weighting="mean")
    with pytest.raises(ValueError, match="chosen then rejected"):
        bmc_loss(h[:1], w, targets[:1], None, h[:1])
    with pytest.raises(ValueError, match="chunk_size"):
        weighted_token_logps(h, w, targets, chunk_size=0)


def test_auto_impl_is_torch_on_cpu():
    assert resolve_impl("auto", torch.device("cpu")) == "torch"


def test_kernel_modules_ship_in_the_installed_package():
    import alignkit.kernels.fused_linear_weighted_logprob as fused
    import alignkit.kernels.weighted_logprob_from_logits as from_logits

    for module in (fused, from_logits):
        assert "site-packages" in module.__file__


def test_empty_batches_give_empty_outputs_and_zero_gradients():
    w = torch.randn(11, 8, requires_grad=True)
    for shape in ((0, 5), (2, 0)):
        h = torch.randn(*shape, 8, requires_grad=True)
        logps, sums = weighted_token_logps(h, w, torch.zeros(shape, dtype=torch.long))
        assert logps.shape == shape and sums.shape == (shape[0],)
        (logps.sum() + sums.sum()).backward()
        assert h.grad.shape == h.shape and float(w.grad.abs().sum()) == 0.0
