"""Where events come from and where results go.

File input and output (JSON lines, gzip, CSV, stdin/stdout) are here. Connectors with heavy
optional dependencies (Kafka) live in their own modules and are not imported by this package,
so ``import cep.connectors`` stays cheap.
"""

from cep.connectors.csv_rows import convert_cell
from cep.connectors.readers import FORMATS, InputSource, Position, open_input
from cep.connectors.records import InputRecord
from cep.connectors.writers import JsonLinesWriter, dead_letter_record, write_dead_letter

__all__ = [
    "FORMATS",
    "InputRecord",
    "InputSource",
    "JsonLinesWriter",
    "Position",
    "convert_cell",
    "dead_letter_record",
    "open_input",
    "write_dead_letter",
]
