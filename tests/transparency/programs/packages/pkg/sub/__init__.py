"""The middle package of ``-m pkg.sub.mod``."""
print("pkg.sub.__init__", __name__, __package__)
