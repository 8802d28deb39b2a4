"""The test suite; its folders mirror the package (see each folder's __init__)."""
