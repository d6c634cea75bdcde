"""What the bundle stage writes besides the bundles: the review site, TMX, XLIFF and
datasets."""
