"""Network Designer: design convolutional networks visually and learn what their parts cost."""

__version__ = "0.1.0"
