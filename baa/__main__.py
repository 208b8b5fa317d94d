from baa.cli import main

raise SystemExit(main())
