"""Converters from other course formats (nbgrader, otter-grader) into a workbench course directory."""
