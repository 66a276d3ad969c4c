"""gangway's pipeline as Dagger functions: test, build, scan, publish, deploy, roll back.

Thin adapters over the core `gangway` (src/gangway): the stage order, the gates and
every command line come from it; this package only puts them into containers.
"""

from .main import GangwayPipeline as GangwayPipeline
