"""Config sections kept in their own modules (the warehouse, the optional data services)."""
