"""AVTNet family of networks, their losses and the shared training engine."""
