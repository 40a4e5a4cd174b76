"""A module inside the zip file."""


def run(n):
    return [i * i for i in range(n)]
