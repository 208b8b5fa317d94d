from baa.book.build import main

raise SystemExit(main())
