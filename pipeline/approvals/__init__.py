"""The reviewer's loop: reviewed files in, approved translations applied to bundles."""
