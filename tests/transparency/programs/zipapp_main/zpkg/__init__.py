"""A package inside the zip file."""
