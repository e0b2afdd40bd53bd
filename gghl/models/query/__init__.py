"""Query-based detectors: AdaMixer / StageInteractor (docs/stageinteractor.md).

- ``detector.QueryDetector``: timm backbone (or any module with ``channels``/``strides``) -> ``neck.ChannelMapping``
  -> learned queries + whole-image boxes -> ``decoder.QueryDecoder`` (``stage.DecoderStage`` x S:
  IoF-biased self-attention, ``sampler.SubboxSampler``, ``mixing.AdaptiveMixing``, FFN, cls/box heads).
- ``reuse_operators=True`` is StageInteractor (kernel reuse through adapters, dynamic mixing bias, (w, h)-scaled
  refinement, P=8 sub-boxes at stage 0); ``False`` is AdaMixer. Configs: ``model=stageinteractor|adamixer``.
- Labels: ``gghl.assigners.hungarian`` (one host transfer per step) and ``gghl.assigners.cross_stage``;
  losses: ``gghl.losses.set_criterion.SetCriterion``; training: ``gghl.tasks.query_detection``.
- ``postprocess.postprocess``: last stage, top-k over queries x classes, no NMS, boxes to original pixels.
"""
