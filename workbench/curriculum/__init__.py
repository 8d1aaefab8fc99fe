"""Courses: the on-disk format (course.yaml + source notebooks), validation and release."""

from workbench.curriculum.loader import load_course
from workbench.curriculum.model import Course, DeviceRequest, Lab

__all__ = ["Course", "DeviceRequest", "Lab", "load_course"]
