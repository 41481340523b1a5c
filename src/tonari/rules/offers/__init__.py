"""The programme's offers: typed conditions and effects applied by priority, with a trace."""
