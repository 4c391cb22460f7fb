"""Helpers shared by the test modules (builders of captures and sessions, browsers, schema checks).

Test modules import from here, never from each other or from conftest."""
