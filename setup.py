"""Only what pyproject.toml cannot say: ship the repository's rules/ and docs/ pages in the
wheel.

The pages live at the top of the repository (one page per rule, one guide per topic, read
by the tests and by humans); the wheel carries them as the data-only packages
``attnlint.rulepages`` and ``attnlint.guides`` so that ``attnlint rule AL101`` and
``attnlint docs attention-collapse`` work from an installed wheel.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["attnlint", "attnlint.*"]),
        "attnlint.rulepages",
        "attnlint.guides",
    ],
    package_dir={"attnlint.rulepages": "rules", "attnlint.guides": "docs"},
    package_data={"attnlint.rulepages": ["*.md"], "attnlint.guides": ["*.md"]},
)
