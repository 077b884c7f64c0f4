"""Decoding orders of the lossless coder: which samples are coded when, from what context.

Each order is first given its side information (prepare(samples) at the encoder, which fits it;
load_predictor(tensors) at the decoder, from the file), then offers the same three walks, so the
encoder's training rows, its coding pass and the decoder all see identical integer features and
predictions:
- rows(samples, keep, generator): (float features, residual, prediction, activity) for training;
- encode(samples, model, encoder, backend): code every sample's bit planes;
- decode(model, decoder, backend): the samples back.
Samples are (points, channels) int64, unsigned at the signal's depth.
"""
import math

import torch

from inrcodec import bitcoder, context, sequential
from inrcodec.errors import CorruptFile
from inrcodec.fixedpoint import ONE


def _sample_rows(feats, residual, pred, scale, keep: float, generator) -> tuple:
    chosen = slice(None)
    if keep < 1.0:
        chosen = torch.rand(len(residual), generator=generator) < keep
    return feats[chosen].float() / ONE, residual[chosen], pred[chosen], scale[chosen]


class InterlacedOrder:
    """Images: coarse-to-fine interlaced passes (context.py)."""

    predictor_counts = ()

    def __init__(self, spec):
        self.spec = spec

    def prepare(self, samples: torch.Tensor) -> None:
        """Images carry no side information."""

    def predictor_tensors(self) -> list:
        return []

    def load_predictor(self, tensors: list) -> None:
        pass

    def _walk(self, samples: torch.Tensor, visit) -> None:
        spec = self.spec
        order = context.channel_order(spec)
        for block in context.schedule(spec):
            first = previous = torch.zeros(len(block.targets), dtype=torch.int64)
            for position, channel in enumerate(order):
                column = samples[:, channel]
                neighbours = column[block.neighbours]
                pred = context.predict(block, neighbours, spec.bit_depth)
                scale = context.activity(block, neighbours, pred, spec.bit_depth)
                feats = context.features(block, neighbours, pred, scale, first, previous, position)
                values = visit(block.targets, channel, feats, pred, scale)
                column[block.targets] = values
                residual = values - pred
                if position == 0:
                    first = residual
                previous = residual

    def rows(self, samples, keep, generator) -> list:
        rows = []

        def visit(targets, channel, feats, pred, scale):
            values = samples[targets, channel]
            rows.append(_sample_rows(feats, values - pred, pred, scale, keep, generator))
            return values

        self._walk(samples.clone(), visit)
        return rows

    def encode(self, samples, model, encoder, backend) -> None:
        depth = self.spec.bit_depth

        def visit(targets, channel, feats, pred, scale):
            values = samples[targets, channel]
            mean, spread = bitcoder.distribution(model.forward_int(feats, backend), pred, scale, depth)
            encoder.code(mean, spread, values, depth)
            return values

        self._walk(samples.clone(), visit)

    def decode(self, model, decoder, backend) -> torch.Tensor:
        spec, depth = self.spec, self.spec.bit_depth
        samples = torch.zeros(spec.num_points, spec.channels, dtype=torch.int64)

        def visit(targets, channel, feats, pred, scale):
            mean, spread = bitcoder.distribution(model.forward_int(feats, backend), pred, scale, depth)
            return decoder.code(mean, spread, depth)

        self._walk(samples, visit)
        return samples


class SequentialOrder:
    """Audio: causal LPC in time order, segments side by side (sequential.py)."""

    def __init__(self, spec):
        self.spec = spec
        self.coeffs = None
        self.half = 1 << (spec.bit_depth - 1)
        self.predictor_counts = sequential.num_coefficients(spec.channels, spec.shape[0])
        self.coords = None
        self.residuals = None  # the encoder's, computed once in prepare() for every walk

    def prepare(self, samples: torch.Tensor) -> None:
        """Fit the per-segment predictors, and the residuals they leave (the same for every width)."""
        self.coeffs = sequential.fit_lpc(samples.numpy(), self.spec.bit_depth)
        self.residuals = self._residuals(samples - self.half)

    def predictor_tensors(self) -> list:
        return [t.reshape(-1) for t in self.coeffs]

    def load_predictor(self, tensors: list) -> None:
        coeffs, frac_bits = tensors
        if frac_bits.numel() and (int(frac_bits.min()) < 0 or int(frac_bits.max()) > sequential.MAX_Q):
            raise CorruptFile("predictor precision out of range")
        segments = sequential.num_segments(self.spec.shape[0])
        self.coeffs = (coeffs.reshape(self.spec.channels, segments, -1), frac_bits.reshape(self.spec.channels, segments))

    def _context(self, signed, residuals, t, channel, position):
        """(features, unsigned prediction, activity) of channel `channel` at times t."""
        offset = t % sequential.SEGMENT
        pred = sequential.predict(signed, t, offset, channel, self.coeffs, self.spec.bit_depth)
        scale = sequential.activity(residuals, t, offset, channel, self.spec.bit_depth)
        if self.coords is None:
            self.coords = sequential.position_features(self.spec.shape[0])
        feats = sequential.features(signed, residuals, t, offset, channel, position, pred, scale, self.coords)
        return feats, pred + self.half, scale

    def _residuals(self, signed: torch.Tensor) -> torch.Tensor:
        n = self.spec.shape[0]
        residuals = torch.zeros_like(signed)
        for channel in range(self.spec.channels):
            for start in range(0, n, context.BLOCK):
                t = torch.arange(start, min(start + context.BLOCK, n))
                pred = sequential.predict(signed, t, t % sequential.SEGMENT, channel, self.coeffs,
                                          self.spec.bit_depth)
                residuals[t, channel] = signed[t, channel] - pred
        return residuals

    def rows(self, samples, keep, generator) -> list:
        signed, residuals = samples - self.half, self.residuals
        rows, n = [], self.spec.shape[0]
        for position in range(self.spec.channels):
            for start in range(0, n, context.BLOCK):
                t = torch.arange(start, min(start + context.BLOCK, n))
                feats, pred, scale = self._context(signed, residuals, t, position, position)
                rows.append(_sample_rows(feats, samples[t, position] - pred, pred, scale, keep, generator))
        return rows

    def encode(self, samples, model, encoder, backend) -> None:
        """Code in the decoder's order: step i, then channel, then plane, then segment. Steps are
        taken in groups, so the probabilities of a group are computed in one vectorised pass."""
        spec, depth, n = self.spec, self.spec.bit_depth, self.spec.shape[0]
        signed, residuals = samples - self.half, self.residuals
        segments = math.ceil(n / sequential.SEGMENT)
        steps_per_group = max(1, context.BLOCK // segments)
        for first_step in range(0, min(sequential.SEGMENT, n), steps_per_group):
            steps = torch.arange(first_step, min(first_step + steps_per_group, sequential.SEGMENT))
            grid = steps[:, None] + torch.arange(segments)[None, :] * sequential.SEGMENT  # (steps, segments)
            valid = grid < n
            t = grid[valid]
            planes = []  # per channel: (bits, probabilities), each (depth, len(t))
            for position in range(spec.channels):
                feats, pred, scale = self._context(signed, residuals, t, position, position)
                mean, spread = bitcoder.distribution(model.forward_int(feats, backend), pred, scale, depth)
                planes.append(bitcoder.plane_probabilities(mean, spread, samples[t, position], depth))
            # Lay (channel, plane, t) out as (step, channel, plane, segment) and drop the padding.
            shape = (spec.channels, depth) + tuple(grid.shape)
            bits = torch.zeros(shape, dtype=torch.int64)
            probs = torch.zeros(shape, dtype=torch.int64)
            for c, (b, p) in enumerate(planes):
                bits[c][:, valid], probs[c][:, valid] = b, p
            keep = valid[None, None].expand(shape)
            arrange = (2, 0, 1, 3)
            encoder.code_bits(bits.permute(arrange)[keep.permute(arrange)], probs.permute(arrange)[keep.permute(arrange)])

    def decode(self, model, decoder, backend) -> torch.Tensor:
        spec, depth, n = self.spec, self.spec.bit_depth, self.spec.shape[0]
        samples = torch.zeros(n, spec.channels, dtype=torch.int64)
        signed = samples - self.half
        residuals = torch.zeros_like(signed)
        for step in range(min(sequential.SEGMENT, n)):
            t = torch.arange(step, n, sequential.SEGMENT)
            for position in range(spec.channels):
                feats, pred, scale = self._context(signed, residuals, t, position, position)
                mean, spread = bitcoder.distribution(model.forward_int(feats, backend), pred, scale, depth)
                values = decoder.code(mean, spread, depth)
                samples[t, position] = values
                signed[t, position] = values - self.half
                residuals[t, position] = values - pred
        return samples


def num_features(kind: str) -> int:
    return sequential.NUM_FEATURES if kind == "audio" else context.NUM_FEATURES


def for_spec(spec):
    if spec.kind == "image":
        return InterlacedOrder(spec)
    if spec.kind == "audio":
        return SequentialOrder(spec)
    raise ValueError(f"no lossless order for {spec.kind}")
