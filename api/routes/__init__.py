"""One blueprint per area of the contract; ``api.app`` registers them all."""
