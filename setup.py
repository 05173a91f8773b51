"""Package layout for setuptools (the metadata is in pyproject.toml).

Besides the Python packages, the wheel carries, inside the ``fleetsim`` package:

- ``fleetsim/viz/``: the browser replay viewer, from ``viz/`` (what
  :func:`fleetsim.replay.writer.viewer_dir` copies into every replay bundle);
- ``fleetsim/scenarios/``: the example scenarios and the data files they reference,
  from ``scenarios/`` (``fleetsim examples`` lists and copies them).

In a source checkout both stay where they are (:mod:`fleetsim.resources` finds them).
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["fleetsim", "fleetsim.*"]),
              "fleetsim.viz", "fleetsim.scenarios"],
    package_dir={"fleetsim.viz": "viz", "fleetsim.scenarios": "scenarios"},
    include_package_data=False,
    package_data={
        "fleetsim.viz": ["*.html", "*.css", "*.md", "js/*.js"],
        "fleetsim.scenarios": ["*.yaml", "experiments/*.yaml", "data/*"],
    },
)
