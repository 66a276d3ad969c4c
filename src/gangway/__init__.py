"""gangway: a deployment pipeline as code — config, blue-green deployer, scan gate, stages."""

__version__ = "0.1.0"
