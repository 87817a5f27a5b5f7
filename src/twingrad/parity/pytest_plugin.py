"""The plugin's old place: environments installed before it moved register this path.

`make install` registers `twingrad.pytest_plugin` (pyproject's ``pytest11`` entry point);
this module only keeps an older editable install loading the same hooks and fixture.
"""

from ..pytest_plugin import ParityFixture, parity, pytest_addoption, pytest_configure

__all__ = ["ParityFixture", "parity", "pytest_addoption", "pytest_configure"]
