"""What users read without a stack: the parsed scrape, the report, bottleneck sentences, ``top`` and the command
line.
"""
