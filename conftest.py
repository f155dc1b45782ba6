"""Loads the shipped pytest plugin (`pulumi_mocks`) for the checkout's own tests and examples; an
installed statefulkit loads it through its entry point, of the same name, so never twice."""

pytest_plugins = ["components.testing.pytest_plugin"]
