"""The dense per-second boundary network (kind "dense"), a fourth kind beside the published three.

The published networks regress one number per clip through a position-bound ``Linear(S -> 64)``;
this one answers *per second* and is translation-equivariant, so every second of a clip is a
training signal:

1. per-second evidence computed from the same processed arrays (no learned weights): MFCC mean,
   spread and change over each second; frame colour, brightness, contrast, saturation, edges,
   black/white share and the change to the neighbouring seconds; text-ROI density overall, in three
   horizontal bands and three columns, and its change (``second_features``).  Each channel is given
   twice: z-scored within the clip (what changes *here*) and batch-normalised (absolute level);
2. a temporal encoder: seven residual blocks of dilated 1-D convolutions (dilations 1..64, receptive
   field 255 s), the clip type (``_start``/``_end``) as an input channel;
3. per-second heads, one pair per clip type: a boundary heatmap (softmax over the clip, trained with
   cross-entropy against a Gaussian of sigma 1 s at the label) and a before/after state (binary
   cross-entropy against "this second lies after the boundary", derived from the scalar label alone);
   and a segment head: the class of every second (datatools.segments: story, opening, ending,
   preview, other), trained with cross-entropy where a spans.json gives the truth, from which
   ``decode_spans`` reads OP start, ED end and the preview (instead of assumed lengths).

``decode_dense`` (pure) turns heatmap + state logits into seconds and a confidence (the posterior
mass within 2 s of the answer); the model's "confidence" is that times ``window_presence``, the
probability that the boundary lies inside the window at all (from the state head, which also trains
on start windows whose OP ends after them: a late opening after a long cold open, or none).

    from models.dense import DenseNet, decode_dense
    net = DenseNet(channels=48, clip_seconds=200)
    out = net(mfcc, frames, roi, is_end)   # "pred" (B,) in [0, 1], "confidence", "heat", "state"
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DILATIONS = (1, 2, 4, 8, 16, 32, 64)
SIGMA_S = 1.0           # width of the Gaussian heatmap target, seconds
STATE_WEIGHT = 0.5      # weight of the before/after loss beside the heatmap cross-entropy
SEGMENT_WEIGHT = 0.5    # weight of the per-second segment loss (where spans.json gives the truth)
REFINE_RADIUS_S = 3.0   # soft-argmax window around the peak
CONF_RADIUS_S = 2.0     # confidence = posterior mass within this distance of the answer


def second_features(mfcc: torch.Tensor, frames: torch.Tensor, roi: torch.Tensor) -> torch.Tensor:
    """Per-second evidence (B, F, S) from mfcc (B, 20, L), frames (B, S, 3, H, W) in [0, 1] and
    roi (B, S, h, w) in {0, 1}."""
    s = frames.shape[1]
    m = F.adaptive_avg_pool1d(mfcc, s)                                   # (B, 20, S)
    m2 = F.adaptive_avg_pool1d(mfcc * mfcc, s)
    spread = torch.sqrt(torch.relu(m2 - m * m) + 1e-6)
    change = F.adaptive_avg_pool1d((mfcc[:, :, 1:] - mfcc[:, :, :-1]).abs(), s)
    g = frames.mean(2)                                                   # (B, S, H, W) grey
    rgb = frames.mean((3, 4)).transpose(1, 2)                            # (B, 3, S)
    sat = (frames.amax(2) - frames.amin(2)).mean((2, 3))                 # (B, S)
    edge = (g[..., 1:, :] - g[..., :-1, :]).abs().mean((2, 3)) + (g[..., 1:] - g[..., :-1]).abs().mean((2, 3))
    step = (g[:, 1:] - g[:, :-1]).abs().mean((2, 3))                     # (B, S-1)
    zero = step.new_zeros(step.shape[0], 1)
    prev, nxt = torch.cat([zero, step], 1), torch.cat([step, zero], 1)
    h, w = roi.shape[2], roi.shape[3]
    bands = [roi[:, :, a * h // 3:(a + 1) * h // 3].mean((2, 3)) for a in range(3)]
    cols = [roi[:, :, :, a * w // 3:(a + 1) * w // 3].mean((2, 3)) for a in range(3)]
    rstep = (roi[:, 1:] - roi[:, :-1]).abs().mean((2, 3))
    per = torch.stack([g.mean((2, 3)), g.flatten(2).std(2), sat, edge, (g < 0.06).float().mean((2, 3)),
                       (g > 0.9).float().mean((2, 3)), prev, nxt, roi.mean((2, 3)), *bands, *cols,
                       torch.cat([zero, rstep], 1)], 1)                 # (B, 16, S)
    return torch.cat([m, spread, change, rgb, per], 1).float()           # (B, 79, S)


N_FEATURES = 79


class DilatedBlock(nn.Module):
    def __init__(self, channels: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)
        self.act = nn.Mish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(self.mix(self.act(self.conv(self.act(self.norm(x))))))


class DenseNet(nn.Module):
    takes_clip_type = True     # forward's 4th input: 1.0 for an _end clip, 0.0 for a _start clip

    def __init__(self, channels: int, clip_seconds: int, dropout: float = 0.1, segments: int = 0):
        super().__init__()
        self.clip_seconds = int(clip_seconds)
        self.raw_norm = nn.BatchNorm1d(N_FEATURES)
        self.inp = nn.Conv1d(2 * N_FEATURES + 1, channels, 1)
        self.blocks = nn.Sequential(*[DilatedBlock(channels, d, dropout) for d in DILATIONS])
        self.out_norm = nn.BatchNorm1d(channels)
        self.heat = nn.Conv1d(channels, 2, 1)      # one boundary heatmap per clip type
        self.state = nn.Conv1d(channels, 2, 1)     # one before/after state per clip type
        self.n_segments = int(segments)
        # per-second segment classes, one head per clip type like the two above
        self.segment = nn.Conv1d(channels, 2 * self.n_segments, 1) if self.n_segments else None

    def forward(self, mfcc: torch.Tensor, frames: torch.Tensor, roi: torch.Tensor,
                is_end: torch.Tensor | None = None) -> dict:
        s = frames.shape[1]
        if s != self.clip_seconds:
            raise ValueError(f"input has {s} seconds but the model was built for {self.clip_seconds}")
        with torch.autocast(device_type=frames.device.type, enabled=False):
            x = second_features(mfcc.float(), frames.float(), roi.float())          # (B, F, S)
            z = (x - x.mean(2, keepdim=True)) / (x.std(2, keepdim=True) + 1e-3)
            b = x.shape[0]
            end = (is_end if is_end is not None else x.new_zeros(b)).float().view(b, 1, 1).expand(b, 1, s)
            h = self.inp(torch.cat([z, self.raw_norm(x), end], 1))                  # (B, C, S)
            h = torch.relu(self.out_norm(self.blocks(h)))
            pick = end[:, 0, 0].round().long()                                      # (B,)
            idx = torch.arange(b, device=h.device)
            heat = self.heat(h)[idx, pick]                                          # (B, S)
            state = self.state(h)[idx, pick]                                        # (B, S)
            seconds, conf = decode_dense(heat.detach(), state.detach())
            present = window_presence(state.detach(), end[:, 0, 0])
            out = {"pred": seconds / s, "confidence": conf * present, "present": present, "heat": heat,
                   "state": state, "per_second": torch.softmax(heat.detach(), 1),
                   "posterior": boundary_posterior(heat.detach(), state.detach())}
            if self.segment is not None:
                k = self.n_segments
                out["segments"] = self.segment(h).view(b, 2, k, s)[idx, pick]       # (B, K, S) logits
        return out


class DenseEnsemble(nn.Module):
    """Several DenseNets trained apart (other seeds), answering as one: the mixture of their boundary
    posteriors (mean of the heatmap softmaxes), of their before/after probabilities and of their
    segment probabilities, decoded once like a single DenseNet.  Same inputs and outputs."""
    takes_clip_type = True

    def __init__(
        self, members: int, channels: int, clip_seconds: int, dropout: float = 0.1, segments: int = 0
    ):
        super().__init__()
        self.clip_seconds = int(clip_seconds)
        self.members = nn.ModuleList(
            [DenseNet(channels, clip_seconds, dropout, segments) for _ in range(members)]
        )

    def forward(self, mfcc: torch.Tensor, frames: torch.Tensor, roi: torch.Tensor,
                is_end: torch.Tensor | None = None) -> dict:
        outs = [m(mfcc, frames, roi, is_end) for m in self.members]
        n = math.log(len(outs))
        heat = torch.logsumexp(torch.stack([torch.log_softmax(o["heat"].float(), 1) for o in outs]), 0) - n
        p_after = torch.stack([torch.sigmoid(o["state"].float()) for o in outs]).mean(0).clamp(1e-6, 1 - 1e-6)
        state = torch.log(p_after) - torch.log1p(-p_after)
        b = heat.shape[0]
        end = (is_end if is_end is not None else heat.new_zeros(b)).float().view(b)
        seconds, conf = decode_dense(heat, state)
        present = window_presence(state, end)
        out = {"pred": seconds / self.clip_seconds, "confidence": conf * present, "present": present,
               "heat": heat, "state": state, "per_second": torch.softmax(heat, 1),
               "posterior": boundary_posterior(heat, state)}
        if "segments" in outs[0]:
            out["segments"] = torch.logsumexp(torch.stack([torch.log_softmax(o["segments"].float(), 1)
                                                           for o in outs]), 0) - n
        return out


def bin_centres(s: int, device=None) -> torch.Tensor:
    """Time of second bin k: its middle, k + 0.5 (the MFCC of bin k covers [k, k + 1))."""
    return torch.arange(s, device=device, dtype=torch.float32) + 0.5


def changepoint_loglik(state_logits: torch.Tensor) -> torch.Tensor:
    """(B, S) log-likelihood of "the boundary lies in bin k": every bin before k is *before*,
    every bin after k is *after*, bin k itself undecided."""
    log_before = F.logsigmoid(-state_logits)
    log_after = F.logsigmoid(state_logits)
    before = torch.cumsum(log_before, 1) - log_before                      # sum over bins < k
    after = torch.flip(torch.cumsum(torch.flip(log_after, [1]), 1), [1]) - log_after   # bins > k
    return before + after


def window_presence(state_logits: torch.Tensor, is_end: torch.Tensor) -> torch.Tensor:
    """(B,) P(the boundary lies inside the window) from the before/after state alone: the
    change-point likelihood summed over the S bins against the one hypothesis of no change inside
    (every second *before* the boundary for a start clip: the OP ends after the window, or there is
    none; every second *after* it for an end clip), with even prior odds and a uniform prior over
    the bins.  About 1 where the state flips inside the window, about 1/S where it never does."""
    state_logits = state_logits.float()
    inside = torch.logsumexp(changepoint_loglik(state_logits), 1) - math.log(state_logits.shape[1])
    never = torch.where(is_end.view(-1).float() >= 0.5, F.logsigmoid(state_logits).sum(1),
                        F.logsigmoid(-state_logits).sum(1))
    return torch.sigmoid(inside - never)


def boundary_posterior(heat_logits: torch.Tensor, state_logits: torch.Tensor | None = None,
                       log_prior: torch.Tensor | None = None) -> torch.Tensor:
    """(B, S) posterior over the bin holding the boundary: softmax(heatmap) times the change-point
    likelihood of the before/after state [times a prior], normalised."""
    score = torch.log_softmax(heat_logits.float(), 1)
    if state_logits is not None:
        score = score + torch.log_softmax(changepoint_loglik(state_logits.float()), 1)
    if log_prior is not None:
        score = score + log_prior
    return torch.softmax(score, 1)


def decode_dense(heat_logits: torch.Tensor, state_logits: torch.Tensor | None = None,
                 log_prior: torch.Tensor | None = None, radius: float = REFINE_RADIUS_S,
                 conf_radius: float = CONF_RADIUS_S) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmap logits (B, S) [+ state logits (B, S)] [+ a log prior over bins] -> (seconds (B,),
    confidence (B,)).  The posterior over bins is softmax(heatmap) times the change-point
    likelihood of the state; the answer is its soft-argmax within ``radius`` seconds of the peak,
    the confidence its mass within ``conf_radius`` seconds of the answer."""
    heat_logits = heat_logits.float()
    if heat_logits.dim() == 1:
        s1, c1 = decode_dense(heat_logits[None], None if state_logits is None else state_logits[None],
                              None if log_prior is None else log_prior.reshape(1, -1), radius, conf_radius)
        return s1[0], c1[0]
    post = boundary_posterior(heat_logits, state_logits, log_prior)         # (B, S)
    pos = bin_centres(post.shape[1], post.device)
    peak = pos[post.argmax(1)]                                              # (B,)
    win = ((pos[None] - peak[:, None]).abs() <= radius).float() * post
    seconds = (win * pos[None]).sum(1) / win.sum(1).clamp_min(1e-12)
    conf = (post * ((pos[None] - seconds[:, None]).abs() <= conf_radius).float()).sum(1)
    return seconds, conf


def dense_targets(target: torch.Tensor, s: int, sigma: float = SIGMA_S) -> tuple[torch.Tensor, torch.Tensor]:
    """From the scalar labels (B,) in [0, 1]: the Gaussian heatmap target (B, S), summing to 1, and
    the before/after state (B, S) in {0, 1}."""
    x = target.float().view(-1, 1) * s
    pos = bin_centres(s, target.device)[None]
    g = torch.exp(-0.5 * ((pos - x) / sigma) ** 2)
    g = g / g.sum(1, keepdim=True).clamp_min(1e-12)
    return g, (pos > x).float()


def balanced_weights(labels: torch.Tensor, k: int) -> torch.Tensor:
    """(k,) class weights for the segment cross-entropy from the batch's own known labels (-1
    ignored): 1 / sqrt(share) of each class present, so that a short, rare segment (a 20-s preview
    in a 200-s end clip) is not drowned by the story around it; normalised to mean 1 over the
    present classes (absent ones weigh 0, which no target uses)."""
    known = labels[labels >= 0].long()
    counts = torch.bincount(known, minlength=k)[:k].float()
    w = torch.where(counts > 0, (counts.sum() / counts.clamp_min(1)).sqrt(), torch.zeros_like(counts))
    return w * (counts > 0).sum() / w.sum().clamp_min(1e-12)


def dense_loss(
    out: dict, target: torch.Tensor, segments: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Heatmap cross-entropy + STATE_WEIGHT x state BCE [+ SEGMENT_WEIGHT x the segment
    cross-entropy over the seconds whose class is known (``segments`` (B, S), -1 unknown), each
    class weighted by ``balanced_weights``].
    A NaN target is a start window whose OP ends after it (datatools.segments.beyond_window_clips):
    no heatmap term, every second "before" for the state, its segments as given."""
    heat, state = out["heat"].float(), out["state"].float()
    target = target.float()
    known = torch.isfinite(target)            # NaN: a window without the boundary (the OP ends after it)
    g, after = dense_targets(torch.where(known, target, torch.full_like(target, 2.0)), heat.shape[1])
    ce_rows = -(g * torch.log_softmax(heat, 1)).sum(1)
    ce = (ce_rows * known).sum() / known.sum().clamp_min(1)
    bce = F.binary_cross_entropy_with_logits(state, after)   # beyond the window: "before" throughout
    loss = ce + STATE_WEIGHT * bce
    seg = heat.new_zeros(())
    if segments is not None and "segments" in out and bool((segments >= 0).any()):
        logits = out["segments"].float()
        seg = F.cross_entropy(logits, segments.long(), weight=balanced_weights(segments, logits.shape[1]),
                              ignore_index=-1)
        loss = loss + SEGMENT_WEIGHT * seg
    return {"loss": loss, "heat": ce.detach(), "state": bce.detach(), "segment": seg.detach()}


def _share(p: np.ndarray, k: int, out_k: int, in_k: int) -> float:
    """p[k] rescaled between the class's level outside (bin ``out_k``) and inside (bin ``in_k``)
    the interval: 0 = like outside, 1 = like inside (levels 0 and 1 where those bins do not exist)."""
    lo = p[out_k] if 0 <= out_k < p.size else 0.0
    hi = p[in_k] if 0 <= in_k < p.size else 1.0
    return float(np.clip((p[k] - lo) / (hi - lo), 0.0, 1.0)) if hi - lo > 1e-3 else float(p[k] >= 0.5)


def _refine_start(p: np.ndarray, a: int) -> float:
    """Sub-second start of an interval whose first bin is ``a``: the bins a - 1 and a hold about
    (a + 1) - start seconds of it, read from their probabilities rescaled between the levels just
    outside (bin a - 2) and inside (bin a + 1); kept within half a second of the bin edge (= a for
    a sharp edge)."""
    if a <= 0 or a >= p.size:
        return float(a)
    inside = _share(p, a - 1, a - 2, a + 1) + _share(p, a, a - 2, a + 1)
    return float(np.clip(a + 1 - inside, a - 0.5, a + 0.5))


def _refine_end(p: np.ndarray, b: int) -> float:
    """Sub-second end of an interval whose last bin is ``b - 1`` (the mirror of _refine_start)."""
    if b <= 0 or b >= p.size:
        return float(b)
    inside = _share(p, b - 1, b + 1, b - 2) + _share(p, b, b + 1, b - 2)
    return float(np.clip(b - 1 + inside, b - 0.5, b + 0.5))


def _interval_score(logp: np.ndarray, lognp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prefix sums (length S + 1) of log p and log (1 - p): sums over [a, b) in O(1)."""
    return np.concatenate([[0.0], np.cumsum(logp)]), np.concatenate([[0.0], np.cumsum(lognp)])


SUPPORT_S = 30.0   # seconds of theme before an OP end / after an ED start that segment_support reads
SUPPORT_VETO = 0.5  # below this support the segment head contradicts an answer (no theme beside it)
# An outer edge (OP start, ED end) is doubtful where other change points explain the segment head's
# probabilities almost as well: every one within this many nats of the best is plausible, and a skip
# range stops at the innermost of them (decode_spans' "op_start_latest" / "ed_end_earliest"), at the
# file's own edges too.  Why 12 and 24: docs/decisions.md, "The OP start's doubt, reconsidered".
OP_START_DOUBT_NATS = 12.0
ED_END_DOUBT_NATS = 24.0
# A hedged answer (OP end / ED start below --sure_confidence) stops at the innermost bin of its boundary
# posterior within this many nats of the peak (inner_edge).  Why 5: docs/decisions.md, "Hedged answers".
INNER_DOUBT_NATS = 5.0


def inner_edge(posterior: np.ndarray, kind: str, answer: float,
               doubt_nats: float = INNER_DOUBT_NATS) -> float:
    """The innermost plausible place of an answered boundary (clip seconds): for an OP end (``start``
    clip) the start of the earliest bin whose boundary posterior (boundary_posterior, (S,)) is within
    ``doubt_nats`` of its peak, for an ED start (``end`` clip) the end of the latest such bin; never
    beyond ``answer`` itself.  Up to there every plausible reading of the posterior calls the
    seconds theme: a skip range that stops there skips no story unless the posterior was wrong
    everywhere (skips.decide.skip_ranges_from_spans, for answers below --sure_confidence)."""
    lp = np.log(np.clip(np.asarray(posterior, np.float64), 1e-300, None))
    ok = np.flatnonzero(lp >= lp.max() - doubt_nats)
    if kind == "start":
        return float(min(ok.min(), answer))
    return float(max(ok.max() + 1, answer))


def segment_support(probs: np.ndarray, kind: str, boundary: float, seconds: float = SUPPORT_S) -> float:
    """What the segment head thinks of a boundary answer (clip seconds): the mean probability of
    "opening" over the ``seconds`` before it (``start`` clip) or of "ending" over those after it
    (``end`` clip), inside the window.  An OP end is only right if an opening precedes it, so this
    bounds P(the answer is right); 0.0 where the window holds none of those seconds (an OP end at
    the window's very start, an ED start at its very end: no theme seen)."""
    from datatools.segments import ENDING, OPENING

    p = np.asarray(probs, np.float64)
    S = p.shape[1]
    e = int(np.clip(round(float(boundary)), 0, S))
    n = int(round(seconds))
    row, lo, hi = (p[OPENING], max(0, e - n), e) if kind == "start" else (p[ENDING], e, min(S, e + n))
    return float(row[lo:hi].mean()) if hi > lo else 0.0


def supported_confidence(confidence: float, support: float) -> float:
    """A boundary's confidence after the segment head's word on it: where the head contradicts the
    answer (support < SUPPORT_VETO: no opening before an OP end, no ending after an ED start) it
    cannot be right and the confidence falls to the support; where the head agrees the calibrated
    confidence stands.  (Why a veto and not a cap: docs/decisions.md, 2026-12-05.)"""
    return float(min(confidence, support)) if support < SUPPORT_VETO else float(confidence)


def recover_boundary(per_second: np.ndarray, probs: np.ndarray, kind: str,
                     answer: float) -> tuple[float, float] | None:
    """The segment head arbitrating between the decoded ``answer`` (clip seconds; the heatmap
    constrained by the before/after state head) and the heatmap's own answer: (clip seconds, raw
    confidence) of the heatmap's answer, or None to keep ``answer``.  The state head can place the
    boundary wrongly: it says "not inside the window" for a short opening that starts at the window's
    first second (reading the story after it as a cold open before a later one), or pulls the answer
    tens of seconds away from a heatmap peak.  When the segment head does not support the decoded
    answer (segment_support < 0.5: no theme before an OP end, none after an ED start) but supports
    the heatmap's soft-argmax (>= 0.5, and more), more than 2 s away, that is the answer, with its
    heatmap mass within 2 s times that support as raw confidence (calibrated like any other).
    ``per_second`` (S,) is the heatmap softmax, ``probs`` (K, S) the segment probabilities."""
    p = np.asarray(per_second, np.float64)
    kept = segment_support(probs, kind, answer)
    if kept >= SUPPORT_VETO:
        return None
    seconds, mass = (float(x) for x in decode_dense(torch.from_numpy(np.log(np.clip(p, 1e-12, 1.0))).float()))
    sup = segment_support(probs, kind, seconds)
    if abs(seconds - float(answer)) <= 2.0 or sup < SUPPORT_VETO or sup <= kept:
        return None
    return seconds, mass * sup


def recover_missed(answers: dict, kinds: Sequence[str]) -> None:
    """In place, for a batch of a dense model's answers (``seconds``, ``confidence``,
    ``per_second``, ``segments`` as class probabilities; lists or arrays in batch order, clip types
    ``kinds``): where recover_boundary prefers the heatmap's own answer, take it and its raw
    confidence (and, where given, its ``posterior`` becomes the heatmap's); ``recovered`` says which
    clips.  Only for a segment head that learned
    (models.checkpoint.segment_head_trained)."""
    answers["recovered"] = [False] * len(kinds)
    for i, kind in enumerate(kinds):
        got = recover_boundary(answers["per_second"][i], answers["segments"][i], kind,
                               float(answers["seconds"][i]))
        if got is not None:
            answers["seconds"][i], answers["confidence"][i] = got
            answers["recovered"][i] = True
            if "posterior" in answers:   # the heatmap answered alone: its posterior is the heatmap's
                answers["posterior"][i] = answers["per_second"][i]


def decode_spans(probs: np.ndarray, kind: str, boundary: float, min_share: float = 0.5,
                 doubt_nats: float | None = None) -> dict:
    """Spans from a clip's per-second segment probabilities ``probs`` (K, S) (softmax of the
    segment head) around its boundary (clip seconds): for a ``start`` clip the OP start (the
    change point a <= boundary that best splits "not opening" before a from "opening" in
    [a, boundary)); for an ``end`` clip the ED end b >= boundary, likewise, and the preview
    [c, d) after b (the best interval of "preview" seconds, or none).  Edges are refined below a
    second from the probabilities of the two bins beside them.  A span whose mean class
    probability is below ``min_share`` is not reported (the caller falls back).  Returns clip
    seconds: {"op_start", "op_start_latest"} or {"ed_end", "ed_end_earliest", "preview",
    "preview_share"} (None where not found; ``preview_share`` is the mean preview probability over
    the reported preview; ``op_start_latest`` / ``ed_end_earliest`` the innermost change point whose
    log-likelihood is within ``doubt_nats`` of the best, where a skip range may safely begin / end;
    None: OP_START_DOUBT_NATS for an OP start, ED_END_DOUBT_NATS for an ED end)."""
    from datatools.segments import ENDING, OPENING, PREVIEW

    if doubt_nats is None:
        doubt_nats = OP_START_DOUBT_NATS if kind == "start" else ED_END_DOUBT_NATS

    p = np.clip(np.asarray(probs, np.float64), 1e-6, 1 - 1e-6)
    S = p.shape[1]
    e = int(np.clip(round(float(boundary)), 0, S))
    if kind == "start":
        lp, ln = _interval_score(np.log(p[OPENING]), np.log(1 - p[OPENING]))
        a = np.arange(e + 1)
        score = ln[a] + (lp[e] - lp[a])                      # before a: not opening; [a, e): opening
        best = int(a[np.argmax(score)])
        share = float(p[OPENING, best:e].mean()) if e > best else 0.0
        if share < min_share:
            return {"op_start": None, "op_start_latest": None}
        latest = float(a[score >= score.max() - doubt_nats].max())
        start = _refine_start(p[OPENING], best)
        return {"op_start": start, "op_start_latest": max(latest, start)}
    lp, ln = _interval_score(np.log(p[ENDING]), np.log(1 - p[ENDING]))
    b = np.arange(e, S + 1)
    score = (lp[b] - lp[e]) + (ln[S] - ln[b])                # [e, b): ending; [b, S): not ending
    end = int(b[np.argmax(score)])
    share = float(p[ENDING, e:end].mean()) if end > e else 0.0
    ed_end = _refine_end(p[ENDING], end) if share >= min_share else None
    earliest = None if ed_end is None else min(float(b[score >= score.max() - doubt_nats].min()), ed_end)
    q0 = end if ed_end is not None else e
    lp, ln = _interval_score(np.log(p[PREVIEW]), np.log(1 - p[PREVIEW]))
    best, best_score, share = None, ln[S] - ln[q0], None      # no preview: every second "not preview"
    c = np.arange(q0, S + 1)[:, None]
    d = np.arange(q0, S + 1)[None, :]
    sc = (ln[c] - ln[q0]) + (lp[d] - lp[c]) + (ln[S] - ln[d])
    sc = np.where(d > c, sc, -np.inf)
    if np.isfinite(sc).any():
        i, j = np.unravel_index(int(np.argmax(sc)), sc.shape)
        if sc[i, j] > best_score and float(p[PREVIEW, q0 + i:q0 + j].mean()) >= min_share:
            best = [_refine_start(p[PREVIEW], q0 + i), _refine_end(p[PREVIEW], q0 + j)]
            share = float(p[PREVIEW, q0 + i:q0 + j].mean())
    return {"ed_end": ed_end, "ed_end_earliest": earliest, "preview": best, "preview_share": share}
