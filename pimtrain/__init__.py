"""pimtrain."""
