"""The page routes, one module per page group."""
