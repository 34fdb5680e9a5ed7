"""Only what pyproject.toml cannot say: ship the repository's rules/ pages in the wheel.

The pages live at the top of the repository (one page per rule, read by the tests and by
humans); the wheel carries them as the data-only package ``attnlint.rulepages`` so that
``attnlint rule AL101`` works from an installed wheel.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["attnlint", "attnlint.*"]), "attnlint.rulepages"],
    package_dir={"attnlint.rulepages": "rules"},
    package_data={"attnlint.rulepages": ["*.md"]},
)
