"""Inference-time folding of each ``Conv2d -> BatchNorm2d`` pair into one convolution.

A traced copy (``torch.fx``) of the network in eval mode: every batch norm whose input is the output of a
convolution used nowhere else is folded into that convolution's weight and bias
(``torch.nn.utils.fusion.fuse_conv_bn_eval``). The function is the same up to float rounding (the folded
weights are ``w * gamma / sqrt(var + eps)``); the original module is left untouched.
"""

from __future__ import annotations

from torch import nn

__all__ = ["FuseError", "fuse_conv_bn"]


class FuseError(RuntimeError):
    """The network cannot be traced for folding (data-dependent control flow in ``forward``)."""


def fuse_conv_bn(net: nn.Module) -> nn.Module:
    """A copy of ``net`` (eval mode) with its conv + batch-norm pairs folded; ``net`` is not changed.

    Raises:
        FuseError: ``torch.fx`` cannot trace ``net`` (the message names the module class and the reason).
    """
    from torch.fx.experimental.optimization import fuse

    was_training = net.training
    net.eval()
    try:
        return fuse(net, inplace=False)
    except Exception as err:  # fx raises several types (TraceError, TypeError, ...) for untraceable code
        raise FuseError(f"cannot fold conv + batch norm of {type(net).__name__}: {err}") from err
    finally:
        net.train(was_training)
