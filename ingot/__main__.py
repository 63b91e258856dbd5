from ingot.cli.main import main

raise SystemExit(main())
