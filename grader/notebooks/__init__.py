"""Reading, writing and inspecting nbgrader notebooks."""
