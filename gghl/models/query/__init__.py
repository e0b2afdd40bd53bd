"""Query-based detectors: AdaMixer / StageInteractor decoder, ChannelMapping neck, post-processing."""
