print("booting")
import app
